// Package schema holds the ClickHouse and PostgreSQL schema as embedded,
// numbered SQL files, and the migrator behind `sluice migrate`: versioned,
// idempotent, and serialised across processes by a Postgres advisory lock.
package schema
