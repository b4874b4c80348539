// Package stores opens connections to sluice's three stores (ClickHouse,
// PostgreSQL, Redis) from their DSNs, with errors that name the store and
// address but never the password.
package stores
