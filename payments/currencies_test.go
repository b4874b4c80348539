package payments

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/internal/testledger"
)

const (
	daiContract  = "0x6b175474e89094c44da98b954eedeac495271d0f"
	usdtContract = "0xdac17f958d2ee523a2206206994597c13d831ec7"
)

func keyBranch(b int64) *int64 { return &b }

// registryOf builds the registry of BTC (when btc) and ETH with tokens.
func registryOf(t *testing.T, btc bool, tokens ...config.Token) *chain.Registry {
	t.Helper()
	cfg := &config.Config{Chains: config.Chains{ETH: &config.Ethereum{Network: "mainnet", Tokens: tokens}}}
	if btc {
		cfg.Chains.BTC = &config.Bitcoin{Network: "mainnet"}
	}
	r, err := chain.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func currencyRows(t *testing.T, db *pgxpool.Pool) string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT code || ' ' || chain || ' ' || contract || ' ' || decimals || ' ' || key_branch FROM currencies ORDER BY code`)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, "; ")
}

// TestPinCurrencies: the first start records the configured currencies;
// the same configuration again records nothing; a configuration that
// changes a recorded currency's contract, decimals, key branch or chain, or
// gives a new currency a recorded one's branch or contract, is refused with
// both values named and nothing written; currencies with wallets the
// configuration lacks are listed.
func TestPinCurrencies(t *testing.T) {
	ctx := context.Background()
	db := testledger.Fresh(t)
	usdt := config.Token{Symbol: "USDT", Address: usdtContract, Decimals: 6}
	dai := config.Token{Symbol: "DAI", Address: daiContract, Decimals: 18, KeyBranch: keyBranch(3)}

	p, err := PinCurrencies(ctx, db, registryOf(t, true, usdt, dai))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Added, " ") != "BTC ETH USDT DAI" || len(p.Unconfigured) != 0 {
		t.Fatalf("first pin %+v", p)
	}
	want := "BTC btc  8 0; DAI eth " + daiContract + " 18 3; ETH eth  18 0; USDT eth " + usdtContract + " 6 1"
	if got := currencyRows(t, db); got != want {
		t.Fatalf("recorded %q, want %q", got, want)
	}
	// the same again, and a process configured with less: nothing to record
	for _, r := range []*chain.Registry{registryOf(t, true, usdt, dai), registryOf(t, false, usdt)} {
		if p, err := PinCurrencies(ctx, db, r); err != nil || len(p.Added) != 0 || len(p.Unconfigured) != 0 {
			t.Fatalf("pin again: %+v %v", p, err)
		}
	}

	// a new token beside a changed one: refused, and the new one is not recorded
	wbtc := config.Token{Symbol: "WBTC", Address: "0x2260fac5e5542a773aa44fbcfedf7c193bc2c599", Decimals: 8, KeyBranch: keyBranch(4)}
	for _, tc := range []struct {
		name   string
		tokens []config.Token
		msgs   []string
	}{
		{"USDT's contract", []config.Token{{Symbol: "USDT", Address: "0x" + strings.Repeat("11", 20), Decimals: 6}, dai, wbtc},
			[]string{"USDT: contract 0x1111111111111111111111111111111111111111 in the configuration, " + usdtContract + " in the ledger"}},
		{"DAI's decimals", []config.Token{usdt, {Symbol: "DAI", Address: daiContract, Decimals: 6, KeyBranch: keyBranch(3)}, wbtc},
			[]string{"DAI: decimals 6 in the configuration, 18 in the ledger"}},
		{"DAI's key branch", []config.Token{usdt, {Symbol: "DAI", Address: daiContract, Decimals: 18, KeyBranch: keyBranch(5)}, wbtc},
			[]string{"DAI: key branch 5 in the configuration, 3 in the ledger"}},
		{"DAI's contract and decimals at once", []config.Token{usdt, {Symbol: "DAI", Address: usdtContract[:40] + "00", Decimals: 8, KeyBranch: keyBranch(3)}, wbtc},
			[]string{"DAI: contract " + usdtContract[:40] + "00", "DAI: decimals 8"}},
		{"a new token on DAI's retired branch", []config.Token{usdt, {Symbol: "WBTC", Address: wbtc.Address, Decimals: 8, KeyBranch: keyBranch(3)}},
			[]string{"WBTC: key branch 3 on eth is DAI's"}},
		{"DAI renamed", []config.Token{usdt, {Symbol: "XDAI", Address: daiContract, Decimals: 18, KeyBranch: keyBranch(6)}, wbtc},
			[]string{"XDAI: contract " + daiContract + " on eth is DAI's", "configure it as DAI"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PinCurrencies(ctx, db, registryOf(t, true, tc.tokens...))
			if !errors.Is(err, ErrCurrencyChanged) {
				t.Fatalf("pinned: %v", err)
			}
			for _, m := range tc.msgs {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error lacks %q:\n%v", m, err)
				}
			}
			t.Log(err)
			if got := currencyRows(t, db); got != want {
				t.Fatalf("recorded %q after a refusal", got)
			}
		})
	}

	// wallets of currencies the configuration lacks: DAI (recorded) and
	// LTC (built in, from before the table)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	var merchant int64
	if err := db.QueryRow(ctx, `INSERT INTO merchants (name, key_account) VALUES ('shop', 1) RETURNING id`).Scan(&merchant); err != nil {
		t.Fatal(err)
	}
	exec(`INSERT INTO wallets (merchant_id, currency, ext_id, chain, address, derivation_index) VALUES
		($1, 'DAI', 'a', 'eth', '0x00000000000000000000000000000000000000d1', 0),
		($1, 'LTC', 'b', 'ltc', 'ltc1qexample', 0),
		($1, 'USDT', 'c', 'eth', '0x00000000000000000000000000000000000000d2', 0)`, merchant)
	p, err = PinCurrencies(ctx, db, registryOf(t, true, usdt, wbtc))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Added, " ") != "WBTC" || strings.Join(p.Unconfigured, " ") != "DAI LTC" {
		t.Fatalf("pin without DAI and LTC: %+v", p)
	}
}

// TestPinCurrenciesConcurrent: two processes starting at once, each with a
// new token on the same key branch: one records its token, the other is
// refused.
func TestPinCurrenciesConcurrent(t *testing.T) {
	ctx := context.Background()
	db := testledger.Fresh(t)
	regs := []*chain.Registry{
		registryOf(t, false, config.Token{Symbol: "DAI", Address: daiContract, Decimals: 18, KeyBranch: keyBranch(3)}),
		registryOf(t, false, config.Token{Symbol: "WBTC", Address: "0x2260fac5e5542a773aa44fbcfedf7c193bc2c599", Decimals: 8, KeyBranch: keyBranch(3)}),
	}
	for round := range 5 {
		if round > 0 {
			if _, err := db.Exec(ctx, `DELETE FROM currencies`); err != nil {
				t.Fatal(err)
			}
		}
		errs := make([]error, len(regs))
		var wg sync.WaitGroup
		for i, r := range regs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = PinCurrencies(ctx, db, r)
			}()
		}
		wg.Wait()
		refused := slices.IndexFunc(errs, func(err error) bool { return errors.Is(err, ErrCurrencyChanged) })
		if refused < 0 || errs[1-refused] != nil {
			t.Fatalf("round %d: %v", round, errs)
		}
		if got := currencyRows(t, db); !strings.Contains(got, " 3") || strings.Count(got, ";") != 1 {
			t.Fatalf("round %d: recorded %q", round, got)
		}
	}
}
