package schema

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/sluicepay/sluice/stores"
)

//go:embed clickhouse/*.sql postgres/*.sql
var files embed.FS

// lockKey is the Postgres advisory lock that serialises every migrator.
const lockKey int64 = 0x736c7569636530 // "sluice0"

// Migration is one ClickHouse schema file.
type Migration struct {
	Version    uint32
	Name       string
	Statements []string
}

// ClickHouseMigrations parses the embedded ClickHouse files, in version order.
func ClickHouseMigrations() ([]Migration, error) {
	entries, err := fs.ReadDir(files, "clickhouse")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil || v == 0 {
			return nil, fmt.Errorf("clickhouse migration %s: name must start with a version number and _", name)
		}
		body, err := files.ReadFile(path.Join("clickhouse", name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: uint32(v), Name: name, Statements: SplitStatements(string(body))})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("clickhouse migrations %s and %s share version %d", ms[i-1].Name, ms[i].Name, ms[i].Version)
		}
	}
	return ms, nil
}

// SplitStatements splits SQL on semicolons that end a line, dropping
// comment-only lines. Keep one statement per `;` at line end in the files.
func SplitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			if s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")); s != "" {
				out = append(out, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// Migrate brings both stores to the newest schema. Concurrent runs (from
// any number of processes) wait for each other on a Postgres advisory lock,
// so each migration is applied once. Progress goes to out.
func Migrate(ctx context.Context, postgresDSN, clickhouseDSN, binary string, out io.Writer) error {
	pgcfg, err := pgx.ParseConfig(postgresDSN)
	if err != nil {
		return fmt.Errorf("postgres DSN is invalid: %w", err)
	}
	if pgcfg.ConnectTimeout == 0 {
		pgcfg.ConnectTimeout = 5 * time.Second
	}
	lockConn, err := pgx.ConnectConfig(ctx, pgcfg)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer lockConn.Close(context.WithoutCancel(ctx))
	var got bool
	if err := lockConn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockKey).Scan(&got); err != nil {
		return fmt.Errorf("postgres: take migration lock: %w", err)
	}
	if !got {
		fmt.Fprintln(out, "waiting for another sluice migrate to finish")
		if _, err := lockConn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
			return fmt.Errorf("postgres: wait for migration lock: %w", err)
		}
	}
	// The lock is the session's: closing lockConn releases it, also if we die.
	if err := CheckVersion(ctx, lockConn); err != nil {
		return err
	}
	if err := migratePostgres(ctx, pgcfg, binary, out); err != nil {
		return err
	}
	return migrateClickHouse(ctx, clickhouseDSN, out)
}

func migratePostgres(ctx context.Context, cfg *pgx.ConnConfig, binary string, out io.Writer) error {
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	sub, err := fs.Sub(files, "postgres")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithTableName("sluice_schema_migrations"))
	if err != nil {
		return fmt.Errorf("postgres migrations: %w", err)
	}
	res, err := p.Up(ctx)
	for _, r := range res {
		fmt.Fprintf(out, "postgres:   applied %s (%s)\n", r.Source.Path, r.Duration.Round(time.Millisecond))
	}
	if err != nil {
		var pe *goose.PartialError
		if errors.As(err, &pe) && pe.Failed != nil {
			return fmt.Errorf("postgres migration %s failed (nothing of it was kept): %w", pe.Failed.Source.Path, pe.Err)
		}
		return fmt.Errorf("postgres migrations: %w", err)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("postgres migrations: %w", err)
	}
	if len(res) == 0 {
		fmt.Fprintf(out, "postgres:   up to date (version %d)\n", v)
	}
	if binary == "" {
		return nil
	}
	// one row per release and schema version, not one per start
	if _, err := db.ExecContext(ctx, `INSERT INTO sluice_migrated_by (binary_version, schema_version)
		SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM (SELECT binary_version, schema_version FROM sluice_migrated_by ORDER BY id DESC LIMIT 1) last
			WHERE last.binary_version = $1 AND last.schema_version = $2)`, binary, v); err != nil {
		return fmt.Errorf("postgres: record the migrating release: %w", err)
	}
	return nil
}

func migrateClickHouse(ctx context.Context, dsn string, out io.Writer) error {
	ms, err := ClickHouseMigrations()
	if err != nil {
		return err
	}
	opts, err := stores.ClickHouseOptions(dsn)
	if err != nil {
		return err
	}
	db := opts.Auth.Database
	if !validIdent(db) {
		return fmt.Errorf("clickhouse database name %q: use letters, digits and _", db)
	}
	// The database may not exist yet: create it over a connection to "default".
	opts.Auth.Database = "default"
	admin, err := stores.OpenClickHouseOptions(opts)
	if err != nil {
		return err
	}
	defer admin.Close()
	if err := admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
		return fmt.Errorf("clickhouse at %s: create database %s: %w", admin.Addr, db, err)
	}
	opts.Auth.Database = db
	ch, err := stores.OpenClickHouseOptions(opts)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version UInt32, name String, applied_at DateTime DEFAULT now()
	) ENGINE = ReplacingMergeTree ORDER BY version`); err != nil {
		return fmt.Errorf("clickhouse at %s: %w", ch.Addr, err)
	}
	applied := map[uint32]bool{}
	rows, err := ch.Query(ctx, "SELECT DISTINCT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("clickhouse at %s: read applied migrations: %w", ch.Addr, err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	n := 0
	var last uint32
	for _, m := range ms {
		last = m.Version
		if applied[m.Version] {
			continue
		}
		start := time.Now()
		// ClickHouse DDL is not transactional: statements are written to be
		// re-runnable, so a run cut short simply runs the file again.
		for i, stmt := range m.Statements {
			if err := ch.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("clickhouse migration %s, statement %d: %w", m.Name, i+1, err)
			}
		}
		if err := recordVersion(ctx, ch, m); err != nil {
			return fmt.Errorf("clickhouse migration %s: record version: %w", m.Name, err)
		}
		fmt.Fprintf(out, "clickhouse: applied %s (%s)\n", m.Name, time.Since(start).Round(time.Millisecond))
		n++
	}
	if n == 0 {
		fmt.Fprintf(out, "clickhouse: up to date (version %d)\n", last)
	}
	return nil
}

func validIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// recordVersion inserts through a batch: ClickHouse 18.16 takes inserts only
// as data blocks with named columns.
func recordVersion(ctx context.Context, ch *stores.ClickHouse, m Migration) error {
	b, err := ch.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, applied_at)")
	if err != nil {
		return err
	}
	if err := b.Append(m.Version, m.Name, time.Now().UTC()); err != nil {
		return err
	}
	return b.Send()
}

// ErrSchemaNewer is returned by CheckVersion when the ledger's schema was
// migrated by a newer sluice than this one.
var ErrSchemaNewer = errors.New("the database schema is newer than this sluice knows")

// KnownVersion is the newest Postgres schema version this binary embeds.
func KnownVersion() (int64, error) {
	entries, err := fs.ReadDir(files, "postgres")
	if err != nil {
		return 0, err
	}
	var newest int64
	for _, e := range entries {
		n, _, found := strings.Cut(e.Name(), "_")
		if !found || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			continue
		}
		newest = max(newest, v)
	}
	return newest, nil
}

// CheckVersion refuses a ledger whose schema a newer sluice migrated: an
// older binary must not run against tables it does not know (a rollback
// is a restore of the backup taken before the upgrade). A ledger not yet
// migrated passes (sluice migrate creates it).
func CheckVersion(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) error {
	known, err := KnownVersion()
	if err != nil {
		return err
	}
	var v int64
	err = q.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM sluice_schema_migrations WHERE is_applied`).Scan(&v)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // no such table: never migrated
		return nil
	}
	if err != nil {
		return fmt.Errorf("postgres: read the schema version: %w", err)
	}
	if v > known {
		by := "a newer sluice"
		var release string
		if q.QueryRow(ctx, `SELECT binary_version FROM sluice_migrated_by ORDER BY id DESC LIMIT 1`).Scan(&release) == nil {
			by = "sluice " + release
		}
		return fmt.Errorf("%w: the ledger is at schema version %d (migrated by %s), this binary knows up to %d: run that release "+
			"(or newer), or restore the backup taken before that upgrade (docs/operations.md, Upgrades)", ErrSchemaNewer, v, by, known)
	}
	return nil
}
