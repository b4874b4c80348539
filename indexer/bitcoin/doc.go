// Package bitcoin is the Bitcoin-family source of the indexer: chain
// parameters per network (BTC, LTC), raw block decoding (Litecoin MWEB
// included), script classification and addresses, and the node client.
package bitcoin
