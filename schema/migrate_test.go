package schema

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/stores"
)

func TestSplitStatements(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"-- only a comment\n", nil},
		{"SELECT 1;", []string{"SELECT 1"}},
		{"-- c\nCREATE TABLE a (\n  x UInt8 -- why\n) ENGINE = Memory;\n\nSELECT 2;\n", []string{"CREATE TABLE a (\n  x UInt8 -- why\n) ENGINE = Memory", "SELECT 2"}},
		{"SELECT 'a;b';\nSELECT 3", []string{"SELECT 'a;b'", "SELECT 3"}},
	}
	for _, c := range cases {
		if got := SplitStatements(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitStatements(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestClickHouseMigrationsParse(t *testing.T) {
	ms, err := ClickHouseMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no clickhouse migrations embedded")
	}
	for i, m := range ms {
		if m.Version != uint32(i+1) {
			t.Errorf("%s: versions must run 1, 2, 3... without gaps, got %d at %d", m.Name, m.Version, i)
		}
		for _, s := range m.Statements {
			for _, banned := range []string{"LowCardinality", "DateTime64", "UInt256", " TTL ", "INDEX "} {
				if strings.Contains(s, banned) {
					t.Errorf("%s uses %s, which ClickHouse 18.16 does not accept", m.Name, banned)
				}
			}
			if strings.HasPrefix(strings.ToUpper(s), "CREATE TABLE") && !strings.Contains(strings.ToUpper(s), "IF NOT EXISTS") {
				t.Errorf("%s: CREATE TABLE without IF NOT EXISTS cannot be re-run: %.60s", m.Name, s)
			}
		}
	}
}

// Every ClickHouse statement must be safe to run again: a migrate killed
// mid-file re-runs the whole file.
func TestClickHouseStatementsRerunnable(t *testing.T) {
	dsn := testenv.FreshClickHouse(t)
	pg := testenv.FreshPostgres(t)
	ctx := context.Background()
	if err := Migrate(ctx, pg, dsn, "", io.Discard); err != nil {
		t.Fatal(err)
	}
	ch, err := stores.OpenClickHouse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ms, _ := ClickHouseMigrations()
	for _, m := range ms {
		for i, s := range m.Statements {
			if err := ch.Exec(ctx, s); err != nil {
				t.Errorf("%s statement %d fails on a second run: %v", m.Name, i+1, err)
			}
		}
	}
}
