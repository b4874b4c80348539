package schema

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/stores"
)

// TestOlderBinaryRefusesNewerSchema: a ledger a newer sluice migrated (its
// version bumped past what this binary embeds) is refused by migrate and by
// CheckVersion, which every store-opening command runs, with a clear error;
// a ledger at this binary's version passes.
func TestOlderBinaryRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	pgDSN, chDSN := testenv.FreshPostgres(t), testenv.FreshClickHouse(t)
	pg, err := stores.OpenPostgres(ctx, pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if err := CheckVersion(ctx, pg); err != nil {
		t.Fatalf("a ledger never migrated: %v", err)
	}
	if err := Migrate(ctx, pgDSN, chDSN, "v0.3.0", io.Discard); err != nil {
		t.Fatal(err)
	}
	// migrating again with the same release records nothing more; a new one does
	for _, rel := range []string{"v0.3.0", "v0.3.1"} {
		if err := Migrate(ctx, pgDSN, chDSN, rel, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	var history string
	if err := pg.QueryRow(ctx, `SELECT string_agg(binary_version, ' ' ORDER BY id) FROM sluice_migrated_by`).Scan(&history); err != nil || history != "v0.3.0 v0.3.1" {
		t.Fatalf("migrated-by history %q (%v)", history, err)
	}
	if err := CheckVersion(ctx, pg); err != nil {
		t.Fatalf("a ledger at this binary's version: %v", err)
	}
	known, err := KnownVersion()
	if err != nil || known < 9 {
		t.Fatalf("known version %d (%v)", known, err)
	}
	// what a newer sluice's migrate leaves
	if _, err := pg.Exec(ctx, `INSERT INTO sluice_schema_migrations (version_id, is_applied) VALUES ($1, true)`, known+1); err != nil {
		t.Fatal(err)
	}
	err = CheckVersion(ctx, pg)
	if !errors.Is(err, ErrSchemaNewer) || !strings.Contains(err.Error(), "restore the backup") || !strings.Contains(err.Error(), "migrated by sluice v0.3.1") {
		t.Fatalf("CheckVersion on a newer ledger: %v", err)
	}
	if err := Migrate(ctx, pgDSN, chDSN, "v0.3.0", io.Discard); !errors.Is(err, ErrSchemaNewer) {
		t.Fatalf("migrate with an older binary: %v", err)
	}
}
