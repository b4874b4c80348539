// Package watch keeps the set of watched deposit addresses of one chain in
// Redis: a bloom filter on a plain Redis bitmap (Redis 7 without RedisBloom)
// in front of an exact Redis set, so an indexer checks every output of a block
// in one pipelined round trip and touches the exact set only for bloom hits.
//
// Keys per chain (the {chain} hash tag keeps them in one cluster slot):
//
//	watch:{btc}:bloom    the bitmap, m bits (m/8 bytes: 18 MB for 10M addresses at 0.1 %)
//	watch:{btc}:addrs    the exact set
//	watch:{btc}:params   the layout (hash, m, k) the bitmap was built with
//	watch:{btc}:sentinel the build id of the last complete Rebuild (written with it)
//
// Redis is the fast path, not the truth: the ledger rebuilds the set with
// Rebuild after Verify reports a difference, e.g. after a FLUSHALL. While
// running, a Guard watches the sentinel and repairs a lost set in seconds.
package watch
