// Package lease keeps exactly one active indexer per chain: a session-level
// Postgres advisory lock on a dedicated connection is the lease, standbys
// poll for it and take over within seconds when the holder's session ends.
package lease
