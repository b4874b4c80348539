// Package jsonrpc is a small JSON-RPC client over HTTP for Bitcoin-family
// nodes (bitcoind, litecoind, btcd) and geth: typed errors, basic auth taken
// from the URL, timeouts, and no secret in any error it returns.
package jsonrpc
