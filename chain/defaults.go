package chain

// The built-in currencies: what a configured chain or token of these names
// is unless the configuration says otherwise. A fresh slice each call, so
// no caller can change another's.
func builtin() []Currency {
	return []Currency{
		{Code: "BTC", Chain: "btc", Family: Bitcoin, Decimals: 8, Confirmations: 2, RateID: "BTC", Minimum: "0.00001"},
		{Code: "LTC", Chain: "ltc", Family: Bitcoin, Decimals: 8, Confirmations: 6, RateID: "LTC", Minimum: "0.00001"},
		{Code: "ETH", Chain: "eth", Family: EVM, Decimals: 18, Confirmations: 12, RateID: "ETH", Minimum: "0.0001"},
		// Tokens live on key branches of their own (BIP44's change level), so
		// one merchant's ETH and token deposit addresses differ: a token sweep
		// pays its gas from its own address's ETH and nonces.
		{Code: "USDT", Chain: "eth", Family: EVM, Decimals: 6, Confirmations: 12, RateID: "USDT", Minimum: "1",
			Contract: "0xdac17f958d2ee523a2206206994597c13d831ec7", KeyBranch: 1},
		{Code: "USDC", Chain: "eth", Family: EVM, Decimals: 6, Confirmations: 12, RateID: "USDC", Minimum: "1",
			Contract: "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48", KeyBranch: 2},
	}
}

// builtinChains are the chains sluice knows by their config key.
func builtinChains() []Chain {
	return []Chain{
		{Key: "btc", Family: Bitcoin, Native: "BTC"},
		{Key: "ltc", Family: Bitcoin, Native: "LTC"},
		{Key: "eth", Family: EVM, Native: "ETH"},
	}
}

// defaultTokenMinimum is the smallest withdrawal of a configured token
// sluice has no built-in properties for: one whole token, as for USDT and
// USDC (sweeps.withdrawal_minimum sets another).
const defaultTokenMinimum = "1"

// defaultEVMConfirmations is what a chains.evm section's deposits need
// unless it says otherwise (Ethereum's).
const defaultEVMConfirmations = 12
