// Package devnet deploys and drives sluice's own devnet contracts (a USDT-like
// token and an ETH/token forwarder, see contracts/) on a geth --dev chain over JSON-RPC.
package devnet
