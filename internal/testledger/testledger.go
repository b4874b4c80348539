// Package testledger gives tests a fresh, migrated ledger on the test
// stack's Postgres (and a fresh ClickHouse database, which migrating needs).
package testledger

import (
	"context"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/schema"
	"github.com/sluicepay/sluice/stores"
)

// DSN migrates a fresh database and returns its DSN.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := testenv.FreshPostgres(t)
	if err := schema.Migrate(context.Background(), dsn, testenv.FreshClickHouse(t), "", io.Discard); err != nil {
		t.Fatal(err)
	}
	return dsn
}

// Open opens a pool on dsn, closed when the test ends.
func Open(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := stores.OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Fresh is a pool on a fresh, migrated ledger.
func Fresh(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return Open(t, DSN(t))
}
