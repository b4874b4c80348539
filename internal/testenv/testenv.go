// Package testenv gives integration tests the servers of the test stack
// (`make test` starts it and exports its SLUICE_* variables). Without them a
// test is skipped, except under CI=true, where a missing server is a failure.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicepay/sluice/stores"
)

// Get returns the variable key, or skips (fails under CI=true) when unset.
func Get(t testing.TB, key string) string {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: under CI the test stack must be up (run the tests with `make test`)", key)
		}
		t.Skipf("%s is not set; run `make test` (or `eval \"$(sluice stack env)\"`) to run this test", key)
	}
	return v
}

// Name returns a short unique name for a throwaway database.
func Name(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// FreshPostgres creates an empty database on the test stack's Postgres and
// returns its DSN; the database is dropped when the test ends.
func FreshPostgres(t testing.TB) string {
	t.Helper()
	base := Get(t, "SLUICE_POSTGRES_DSN")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to the test stack's postgres: %v", err)
	}
	defer conn.Close(ctx)
	name := Name("test")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// FreshClickHouse returns a DSN naming a new database on the test stack's
// ClickHouse (not yet created: `sluice migrate` creates it); it is dropped
// when the test ends.
func FreshClickHouse(t testing.TB) string {
	t.Helper()
	base := Get(t, "SLUICE_CLICKHOUSE_DSN")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	name := Name("test")
	u.Path = "/" + name
	dsn := u.String()
	t.Cleanup(func() {
		ch, err := stores.OpenClickHouse(base)
		if err != nil {
			return
		}
		defer ch.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = ch.Exec(ctx, "DROP DATABASE IF EXISTS "+name)
	})
	return dsn
}

// RepoRoot finds the module root (where go.mod is) from the working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal(fmt.Errorf("go.mod not found above the working directory"))
		}
		dir = parent
	}
}
