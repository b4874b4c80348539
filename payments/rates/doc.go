// Package rates prices BTC, LTC, ETH and USDT in USD and EUR from public
// price APIs (CoinGecko, Kraken, Coinbase, in a configured fallback order),
// caches the prices in Redis with their source and fetch time, and never
// uses one older than the staleness limit: without a fresh price it answers
// ErrNoRate, so callers wait rather than guess.
//
// Service.Price is the cached price; Service.Convert values a deposit for
// webhooks (payments/webhook.Converter), fixing the rate in the deposit's
// row the first time (ValueDeposit); MeetsMinimum is litepay's 1 USD
// minimum. Prices and amounts are exact decimals throughout, never floats.
package rates
