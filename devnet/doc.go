// Package devnet drives the local stack's chains for operators and tests:
// it deploys and calls sluice's own devnet contracts (a USDT-like token and
// an ETH/token forwarder, see contracts/) on a geth --dev chain over
// JSON-RPC, pays from the stack's funded wallets on every chain (Nodes.Pay,
// PayBTC), mines blocks (Nodes.Mine) and makes destination addresses
// (Nodes.NewAddress). It also reads exact decimal amounts into base units
// (through the amount package) and checks destination addresses against the
// stack's networks (ValidateAddress). `sluice devnet` is its command line.
package devnet
