// Package chain is the registry of the chains sluice follows and the
// currencies it takes on them, built once from the configuration: what a
// currency is (its chain, family, decimals, confirmations, token contract,
// rate id, withdrawal minimum, key branch) is asked here, never written
// again elsewhere. The built-in defaults (BTC, LTC, ETH, USDT and USDC on
// Ethereum) are in defaults.go, the only place that names them.
package chain
