package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicepay/sluice/internal/testledger"
	"github.com/sluicepay/sluice/payments"
)

// TestDepositsListConfiguredToken: `sluice deposits list --currency CODE`
// takes a token the configuration adds (not only the built-in currencies)
// and still refuses a code neither configured nor built in.
func TestDepositsListConfiguredToken(t *testing.T) {
	dsn := testledger.DSN(t)
	clearEnv(t) // the file alone decides the configuration
	dir := t.TempDir()
	cfg := strings.Replace(stackConfig, "SEED", writeFile(t, dir, "seed", testMnemonic, 0o600), 1)
	cfg = strings.Replace(cfg, "postgres://sluice:pgpass@127.0.0.1:28110/sluice?sslmode=disable", dsn, 1)
	usdt := `      - {symbol: USDT, address: "0x3a220f351252089d385b29beca14e27f204c296a", decimals: 6}` + "\n"
	if !strings.Contains(cfg, usdt) {
		t.Fatal("the stack configuration lists no USDT token to add after")
	}
	cfg = strings.Replace(cfg, usdt, usdt+
		`      - {symbol: EURC, address: "0x00000000000000000000000000000000000000e1", decimals: 6, key_branch: 3, confirmations: 3, rate_id: none}`+"\n", 1)
	t.Setenv("SLUICE_CONFIG", writeFile(t, dir, "sluice.yaml", cfg, 0o600))

	list := func(currency string) (string, error) {
		root := newRootCmd()
		var out, errOut bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs([]string{"deposits", "list", "--currency", currency, "--json"})
		err := root.ExecuteContext(context.Background())
		return out.String(), err
	}
	if out, err := list("EURC"); err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("deposits list --currency EURC (configured): %q %v", out, err)
	}
	if out, err := list("USDC"); err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("deposits list --currency USDC (built in, not configured): %q %v", out, err)
	}
	if _, err := list("DOGE"); !errors.Is(err, payments.ErrUnknownCurrency) {
		t.Errorf("deposits list --currency DOGE: %v, want %v", err, payments.ErrUnknownCurrency)
	}
}
