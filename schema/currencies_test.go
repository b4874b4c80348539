package schema

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/stores"
)

// TestLedgerTakesConfiguredCurrencies: after migrate the ledger holds any
// currency code and chain key of the registry's form (USDC on eth, USDT on
// polygon) and refuses malformed ones; watch-only keys stay BTC and LTC;
// 00012 goes down to the old lists and up again, and its Down is refused
// while a row outside those lists exists.
func TestLedgerTakesConfiguredCurrencies(t *testing.T) {
	ctx := context.Background()
	pgDSN := testenv.FreshPostgres(t)
	if err := Migrate(ctx, pgDSN, testenv.FreshClickHouse(t), "", io.Discard); err != nil {
		t.Fatal(err)
	}
	pg, err := stores.OpenPostgres(ctx, pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	var merchant int64
	if err := pg.QueryRow(ctx, `INSERT INTO merchants (name, key_account) VALUES ('shop', 1) RETURNING id`).Scan(&merchant); err != nil {
		t.Fatal(err)
	}

	// insert runs one statement in a transaction rolled back at once, and
	// gives the name of the constraint that refused it ("" if none did).
	insert := func(t *testing.T, sql string, args ...any) string {
		t.Helper()
		tx, err := pg.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, sql, args...)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23514" { // check_violation
			return pe.ConstraintName
		}
		if err != nil {
			t.Fatalf("%s %v: %v", sql, args, err)
		}
		return ""
	}
	wallet := func(cur, chain string) string {
		return insert(t, `INSERT INTO wallets (merchant_id, currency, ext_id, chain, address, derivation_index)
			VALUES ($1, $2, 'c1', $3, '0x00000000000000000000000000000000000000aa', 0)`, merchant, cur, chain)
	}
	for _, c := range []struct{ cur, chain, refused string }{
		{"USDC", "eth", ""},
		{"USDT_POLYGON", "polygon", ""},
		{"BTC", "btc", ""},
		{"usdc", "eth", "wallets_currency_check"},
		{"Usdc", "eth", "wallets_currency_check"},
		{"U", "eth", "wallets_currency_check"},
		{"1INCH", "eth", "wallets_currency_check"},
		{"USDC-ETH", "eth", "wallets_currency_check"},
		{"USDÇ", "eth", "wallets_currency_check"},
		{"", "eth", "wallets_currency_check"},
		{"A23456789012345678901234567890123", "eth", "wallets_currency_check"}, // 33 characters
		{"USDC", "ETH", "wallets_chain_check"},
		{"USDC", "eth ", "wallets_chain_check"},
		{"USDC", "", "wallets_chain_check"},
	} {
		if got := wallet(c.cur, c.chain); got != c.refused {
			t.Errorf("wallet %q on %q: refused by %q, want %q", c.cur, c.chain, got, c.refused)
		}
	}
	for _, c := range []struct{ sql, refused string }{
		{`INSERT INTO merchant_confirmations (merchant_id, currency, confirmations) VALUES ($1, 'USDC', 12)`, ""},
		{`INSERT INTO merchant_confirmations (merchant_id, currency, confirmations) VALUES ($1, 'usdc', 12)`, "merchant_confirmations_currency_check"},
		{`INSERT INTO merchant_settlements (merchant_id, currency) VALUES ($1, 'USDC')`, ""},
		{`INSERT INTO merchant_settlements (merchant_id, currency) VALUES ($1, 'usdc')`, "merchant_settlements_currency_check"},
		{`INSERT INTO sweeps (chain, currency, merchant_id, kind, destination, amount) VALUES ('eth', 'USDC', $1, 'hot', '0xd', 1)`, ""},
		{`INSERT INTO sweeps (chain, currency, merchant_id, kind, destination, amount) VALUES ('eth', 'usdc', $1, 'hot', '0xd', 1)`, "sweeps_currency_check"},
		{`INSERT INTO sweeps (chain, currency, merchant_id, kind, destination, amount) VALUES ('Polygon', 'USDC', $1, 'hot', '0xd', 1)`, "sweeps_chain_check"},
		{`INSERT INTO merchant_xpubs (merchant_id, currency, xpub) VALUES ($1, 'BTC', 'zpub')`, ""},
		{`INSERT INTO merchant_xpubs (merchant_id, currency, xpub) VALUES ($1, 'USDC', 'zpub')`, "merchant_xpubs_currency_check"},
		{`INSERT INTO merchant_xpubs (merchant_id, currency, xpub) VALUES ($1, 'DOGE', 'zpub')`, "merchant_xpubs_currency_check"},
	} {
		if got := insert(t, c.sql, merchant); got != c.refused {
			t.Errorf("%s: refused by %q, want %q", c.sql, got, c.refused)
		}
	}
	// A withdrawal needs a balance (00007's trigger): a confirmed hot sweep
	// of USDC, and of ETH for its gas.
	tx, err := pg.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, cur := range []string{"USDC", "ETH"} {
		if _, err := tx.Exec(ctx, `INSERT INTO sweeps (chain, currency, merchant_id, kind, state, destination, amount)
			VALUES ('eth', $2, $1, 'hot', 'confirmed', '0xd', 1000)`, merchant, cur); err != nil {
			t.Fatal(err)
		}
	}
	withdraw := func(cur, feeCur string) error {
		_, err := tx.Exec(ctx, `INSERT INTO withdrawals (merchant_id, currency, ext_id, address, amount, fee_currency, fee_reserved)
			VALUES ($1, $2, 'w-' || $2, '0xe', 400, $3, 100)`, merchant, cur, feeCur)
		return err
	}
	if err := withdraw("USDC", "ETH"); err != nil {
		t.Fatalf("a USDC withdrawal paying its gas in ETH: %v", err)
	}
	var usdc, eth string
	if err := tx.QueryRow(ctx, `SELECT merchant_balance($1, 'USDC')::text, merchant_balance($1, 'ETH')::text`, merchant).Scan(&usdc, &eth); err != nil ||
		usdc != "600" || eth != "900" {
		t.Fatalf("balances after the withdrawal: USDC %s, ETH %s (%v); want 600 and 900", usdc, eth, err)
	}
	if _, err := tx.Exec(ctx, `SAVEPOINT s`); err != nil {
		t.Fatal(err)
	}
	var pe *pgconn.PgError
	if err := withdraw("usdc", "ETH"); !errors.As(err, &pe) || pe.ConstraintName != "withdrawals_currency_check" {
		t.Fatalf("a lower-case withdrawal currency: %v", err)
	}
	if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	// Down and up again. A USDC row blocks the Down, which keeps nothing of
	// itself; without it the old lists come back and refuse USDC.
	p := postgresProvider(t, pgDSN)
	// 00013 (the currencies record) first: it holds nothing 00012 needs
	if _, err := p.DownTo(ctx, 12); err != nil {
		t.Fatalf("down to 12: %v", err)
	}
	if _, err := pg.Exec(ctx, `SELECT 1 FROM currencies`); err == nil {
		t.Fatal("00013 went down and left its currencies table")
	}
	if _, err := p.Down(ctx); err == nil {
		t.Fatal("00012 went down with USDC rows in the ledger")
	}
	if v, err := p.GetDBVersion(ctx); err != nil || v != 12 {
		t.Fatalf("after the refused Down: version %d (%v), want 12", v, err)
	}
	if _, err := pg.Exec(ctx, `TRUNCATE withdrawals, sweeps, merchant_settlements, merchant_confirmations, wallets CASCADE`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Down(ctx); err != nil {
		t.Fatalf("down: %v", err)
	}
	if v, err := p.GetDBVersion(ctx); err != nil || v != 11 {
		t.Fatalf("after down: version %d (%v), want 11", v, err)
	}
	if got := wallet("USDC", "eth"); got != "wallets_currency_check" {
		t.Errorf("version 11 takes a USDC wallet (refused by %q)", got)
	}
	if got := wallet("ETH", "polygon"); got != "wallets_chain_check" {
		t.Errorf("version 11 takes a polygon wallet (refused by %q)", got)
	}
	if got := wallet("USDT", "eth"); got != "" {
		t.Errorf("version 11 refuses a USDT wallet (by %q)", got)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if got := wallet("USDC", "eth"); got != "" {
		t.Errorf("up again: a USDC wallet refused by %q", got)
	}
}

// postgresProvider is the migrator's goose provider over dsn, to step versions.
func postgresProvider(t *testing.T, dsn string) *goose.Provider {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { _ = db.Close() })
	sub, err := fs.Sub(files, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithTableName("sluice_schema_migrations"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
