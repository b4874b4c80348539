// Package stack supervises the local dependency stack behind `sluice stack`:
// ClickHouse, PostgreSQL, Redis, btcd, litecoind and geth, installed when
// missing, bound to 127.0.0.1, with data, logs and pid files in one directory.
package stack
