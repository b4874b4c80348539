// Package store writes the chain index to ClickHouse in column batches and
// reads it back through canonical-only queries: rows of orphaned blocks and
// rows above the committed tip are never returned.
package store
