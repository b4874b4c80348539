package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicepay/sluice/stores"
)

// checkSchema asserts both stores hold every migration exactly once.
func checkSchema(t *testing.T, pgDSN, chDSN string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := pgx.Connect(ctx, pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, distinct int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT version_id) FROM sluice_schema_migrations WHERE version_id > 0`).
		Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if want := countFiles(t, "postgres"); rows != want || distinct != want {
		t.Fatalf("postgres: %d rows, %d versions recorded, want %d", rows, distinct, want)
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('chain_checkpoints') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		t.Fatalf("postgres: chain_checkpoints missing (%v)", err)
	}

	ch, err := stores.OpenClickHouse(chDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	var n, uniq uint64
	if err := ch.QueryRow(ctx, "SELECT count(), uniqExact(version) FROM schema_migrations").Scan(&n, &uniq); err != nil {
		t.Fatal(err)
	}
	if want := uint64(countFiles(t, "clickhouse")); n != want || uniq != want {
		t.Fatalf("clickhouse: %d rows, %d versions recorded, want %d", n, uniq, want)
	}
	r, err := ch.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase()")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, s)
	}
	r.Close()
	for _, want := range []string{"blocks", "block_status", "schema_migrations"} {
		if !slices.Contains(tables, want) {
			t.Errorf("clickhouse: table %s missing (have %v)", want, tables)
		}
	}
}
