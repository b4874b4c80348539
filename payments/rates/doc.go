// Package rates prices the configured currencies (Options.Assets, from the
// chain registry) in USD and EUR from public price APIs (CoinGecko, Kraken,
// Coinbase, in a configured fallback order). A currency is priced by its
// rate id (USDC for USDC on any chain), by the sources that know that id
// (CoinGeckoIDs, KrakenPairs, CoinbaseIDs). It caches the prices in Redis
// with their source and fetch time, and never uses one older than the
// staleness limit: without a fresh price it answers ErrNoRate, so callers
// wait rather than guess.
//
// Service.Price is the cached price; Service.Convert values a deposit for
// webhooks (payments/webhook.Converter), fixing the rate in the deposit's
// row the first time (ValueDeposit); MeetsMinimum is litepay's 1 USD
// minimum. Prices and amounts are exact decimals throughout, never floats.
package rates
