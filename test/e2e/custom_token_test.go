package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicepay/sluice/devnet"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
)

// TestCustomTokenEndToEnd: a token sluice has never heard of works by
// configuration alone (docs/operations.md "Adding a token or a chain"). The
// test deploys a fresh USDC-like contract on the stack's geth, calls it EURC
// (6 decimals, like Circle's euro coin) and lists it in a copy of the
// stack's configuration with key_branch 3, confirmations 3 and rate_id none.
// Through the API: GET /currencies lists it with its contract and 3
// confirmations, its wallet is on its own key branch (not the merchant's
// ETH, USDT or USDC address), a payment becomes signed iqpay webhooks from
// status 0 to status 1 at 3 confirmations with the exact amount (and a fiat
// value of 0: it is unpriced), `sluice deposits list --currency EURC`
// lists it, the deposit is swept to the merchant's
// settlement address with a gas top-up paid in ETH, the ledger records the
// currency as configured, `sluice ledger check` is clean and `sluice ledger
// show` prints the EURC row.
func TestCustomTokenEndToEnd(t *testing.T) {
	rpc := testenv.Get(t, "SLUICE_ETH_RPC")
	eth, err := jsonrpc.New(rpc)
	if err != nil {
		t.Fatal(err)
	}
	dev := testenv.Get(t, "SLUICE_ETH_DEV_ACCOUNT")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eurc, err := devnet.DeployUSDC(ctx, rpc, dev)
	if err != nil {
		t.Fatalf("deploy the EURC contract: %v", err)
	}
	cfg := customTokenConfig(t, fmt.Sprintf(`{symbol: EURC, address: "%s", decimals: 6, key_branch: 3, confirmations: 3, rate_id: none}`, eurc))

	h := newHookReceiver(t)
	prices := deadPort(t)
	dest := devnetAddress(t, "eth")
	a := newAPIEnvWith(t, h.srv.URL+"/iqpay", []string{"--convert", "USD"}, "SLUICE_CONFIG="+cfg,
		"SLUICE_RATES_SOURCES=coingecko=http://"+prices, "SLUICE_SWEEPS_ENABLED=true")
	a.startSub(t, nil, "devnet", "prices", "--listen", prices)
	h.mu.Lock()
	h.secret = a.secret
	h.mu.Unlock()
	if r := run(t, a.env, "merchant", "update", "1", "--settle", "EURC="+dest); r.code != 0 {
		t.Fatalf("merchant update: %s", r.stderr)
	}
	a.fundGasTank(t)
	a.srv = startServeArgs(t, a.env)

	if c := a.currencies(t)["EURC"]; c == nil || c["chain"] != "eth" || c["decimals"] != 6.0 ||
		!strings.EqualFold(fmt.Sprint(c["contract"]), eurc) || c["confirmations"] != 3.0 {
		t.Fatalf("GET /currencies does not list EURC with its contract, 6 decimals and 3 confirmations: %v", c)
	}

	addr := a.walletWhenSynced(t, "EURC", "cust-eurc")
	for _, other := range []string{"ETH", "USDT", "USDC"} {
		if o := a.walletWhenSynced(t, other, "cust-eurc"); strings.EqualFold(o, addr) {
			t.Fatalf("the EURC wallet shares its address with the %s wallet: %s", other, addr)
		}
	}
	var chainKey, contract string
	var decimals, branch int64
	if err := a.pool(t).QueryRow(context.Background(), `SELECT chain, contract, decimals, key_branch FROM currencies WHERE code = 'EURC'`).
		Scan(&chainKey, &contract, &decimals, &branch); err != nil {
		t.Fatalf("the ledger has not recorded EURC: %v", err)
	}
	if chainKey != "eth" || !strings.EqualFold(contract, eurc) || decimals != 6 || branch != 3 {
		t.Errorf("the ledger recorded EURC as %s %s %d decimals branch %d, want eth %s 6 decimals branch 3", chainKey, contract, decimals, branch, eurc)
	}

	tx := payToken(t, rpc, dev, eurc, addr, big.NewInt(12_500_000))
	devnetMine(t, "eth", 3)
	raw := h.depositAnnounced(t, tx, "EURC", addr, "12.5", 3)
	if !strings.Contains(raw, `"convert_currency":"USD"`) || !strings.Contains(raw, `"converted_amount":0,`) {
		t.Errorf("an unpriced currency's body should carry a USD value of 0: %s", raw)
	}
	r := run(t, a.env, "deposits", "list", "--currency", "EURC", "--json")
	var ds []struct {
		Currency, Amount, TxID string
		Status                 int
	}
	if err := json.Unmarshal([]byte(r.stdout), &ds); r.code != 0 || err != nil || len(ds) != 1 ||
		ds[0].Currency != "EURC" || ds[0].Amount != "12500000" || ds[0].TxID != tx || ds[0].Status != 1 {
		t.Errorf("deposits list --currency EURC: %d %s %s (%v)", r.code, r.stdout, r.stderr, err)
	}

	// the sweep to the settlement address, its gas topped up in ETH
	byKind := a.jobsConfirmed(t, "eth", 2)
	if g := byKind["gas ETH"]; !strings.EqualFold(g.dest, addr) {
		t.Errorf("gas top-up %+v, want ETH to %s", g, addr)
	}
	if s := byKind["settle EURC"]; s.amount != "12500000" || !strings.EqualFold(s.dest, dest) {
		t.Errorf("EURC sweep %+v, want 12500000 to %s", s, dest)
	}
	if got := tokenBalance(t, eth, eurc, dest); got != "12500000" {
		t.Errorf("the settlement address has %s EURC units, want 12500000", got)
	}
	if got := tokenBalance(t, eth, eurc, addr); got != "0" {
		t.Errorf("the deposit address still has %s EURC units", got)
	}
	a.ethIndexed(t, eth)
	if r := run(t, a.env, "ledger", "check"); r.code != 0 || !strings.Contains(r.stdout, "clean") {
		t.Fatalf("ledger check: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, a.env, "ledger", "show", "--merchant", "1")
	var row []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[1] == "EURC" {
			row = f
		}
	}
	// MERCHANT CURRENCY DEPOSITED FEES NETWORK SETTLED HOT FORWARDED WITHDRAWN BALANCE UNSWEPT
	if r.code != 0 || len(row) != 11 || row[2] != "12.5" || row[5] != "12.5" || row[10] != "0" {
		t.Errorf("ledger show has no EURC row with 12.5 deposited and settled, nothing unswept: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// customTokenConfig copies the test stack's configuration (SLUICE_CONFIG)
// into a temporary file with token, a flow-style YAML mapping, added to
// chains.eth.tokens, and returns its path. The test's environment still
// overrides the stores, seed and the rest.
func customTokenConfig(t *testing.T, token string) string {
	t.Helper()
	src := testenv.Get(t, "SLUICE_CONFIG")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	added := false
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		out = append(out, l)
		if strings.TrimSpace(l) != "tokens:" || added {
			continue
		}
		// the entries' indentation is the first entry's
		indent := strings.Repeat(" ", len(l)-len(strings.TrimLeft(l, " "))+2)
		if i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "- ") {
			next := lines[i+1]
			indent = next[:len(next)-len(strings.TrimLeft(next, " "))]
		}
		out = append(out, indent+"- "+token)
		added = true
	}
	if !added {
		t.Fatalf("%s has no chains.eth.tokens list to add to", src)
	}
	p := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(p, []byte(strings.Join(out, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// payToken pays units of the devnet token at contract (a USDCToken the dev
// account owns) from the dev account to to, minting them first, and
// returns the transfer's transaction hash.
func payToken(t *testing.T, rpc, dev, contract, to string, units *big.Int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := devnet.Mint(ctx, rpc, dev, contract, dev, units); err != nil {
		t.Fatalf("mint: %v", err)
	}
	tx, err := devnet.TransferToken(ctx, rpc, dev, contract, to, units)
	if err != nil {
		t.Fatalf("transfer: %v", err)
	}
	return tx
}
