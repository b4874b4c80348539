// Package ethereum is the Ethereum source of the indexer: blocks,
// transactions and receipts decoded from geth's JSON-RPC answers, ERC-20
// Transfer logs and internal (traced) value transfers, and the node client.
package ethereum
