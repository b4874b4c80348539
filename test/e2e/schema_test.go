package e2e

import (
	"context"
	"slices"
	"strings"
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

// TestOlderBinaryRefusesNewerSchema: the real binary migrates a ledger and
// records its release; a schema version bumped past what it knows (what a
// newer release's migrate leaves) is refused by migrate and by a worker
// with a clear error naming that release, and nothing runs.
func TestOlderBinaryRefusesNewerSchema(t *testing.T) {
	ie := newIndexEnv(t) // migrated by this binary
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, ie.pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var release string
	if err := conn.QueryRow(ctx, `SELECT binary_version FROM sluice_migrated_by ORDER BY id DESC LIMIT 1`).Scan(&release); err != nil || release == "" {
		t.Fatalf("the migrating release is not recorded: %q %v", release, err)
	}
	if v := run(t, nil, "version").stdout; !strings.Contains(v, release) {
		t.Fatalf("recorded %q, but sluice version says %q", release, v)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO sluice_schema_migrations (version_id, is_applied) VALUES (9999, true);
		INSERT INTO sluice_migrated_by (binary_version, schema_version) VALUES ('v99.0.0', 9999)`); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"migrate"}, {"consume", "--chain", "ltc"}, {"ledger", "check", "--no-solvency"}} {
		r := run(t, ie.env, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "schema version 9999 (migrated by sluice v99.0.0)") ||
			!strings.Contains(r.stderr, "restore the backup") {
			t.Fatalf("sluice %s on a newer schema: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
}
