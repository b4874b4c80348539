// Package indexer keeps a chain's index equal to its node's main chain: the
// follower (woken by interchangeable triggers and a watchdog poll), the
// parallel catch-up pipeline, reorg walk-back, checkpoints and block events.
package indexer
