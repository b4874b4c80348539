package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
	"github.com/sluicepay/sluice/payments/keys"
	ethsweep "github.com/sluicepay/sluice/payments/sweep/ethereum"
)

// TestSidechainEndToEnd: a second EVM chain configured as chains.evm.sidechain
// (its own geth, chain id 1338, coin SIDE, a USDT-like token) with no Go code
// naming it. Its currencies are SIDE_SIDECHAIN and USDT_SIDECHAIN in GET
// /currencies; a USDT_SIDECHAIN wallet is paid on that chain, the merchant
// gets signed iqpay webhooks from status 0 to status 1 at 12 confirmations
// with the exact amount, the deposit is swept to a settlement address on
// that chain with its gas topped up in SIDE (not ETH), and `sluice ledger
// check` is clean.
func TestSidechainEndToEnd(t *testing.T) {
	side, err := jsonrpc.New(testenv.Get(t, "SLUICE_SIDECHAIN_RPC"))
	if err != nil {
		t.Fatal(err)
	}
	usdt := testenv.Get(t, "SLUICE_SIDECHAIN_USDT_CONTRACT")
	h := newHookReceiver(t)
	dest := devnetAddress(t, "sidechain")
	// the stack's configuration names the sidechain (no SLUICE_* variable can: a section by key)
	a := newAPIEnvHooks(t, h.srv.URL+"/iqpay", "SLUICE_CONFIG="+testenv.Get(t, "SLUICE_CONFIG"), "SLUICE_SWEEPS_ENABLED=true")
	h.mu.Lock()
	h.secret = a.secret
	h.mu.Unlock()
	if r := run(t, a.env, "merchant", "update", "1", "--settle", "USDT_SIDECHAIN="+dest); r.code != 0 {
		t.Fatalf("merchant update: %s", r.stderr)
	}
	// the gas tank is the same address on every EVM chain; on this one it pays in SIDE
	seed, err := keys.LoadSeed(envOf(a.env, "SLUICE_SEED_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	tank, err := ethsweep.GasTankAddress(seed, "dev")
	if err != nil {
		t.Fatal(err)
	}
	devnetPay(t, "SIDE_SIDECHAIN", tank, "1")
	a.srv = startServeArgs(t, a.env)

	listed := a.currencies(t)
	if u := listed["USDT_SIDECHAIN"]; u == nil || u["chain"] != "sidechain" || !strings.EqualFold(fmt.Sprint(u["contract"]), usdt) ||
		u["decimals"] != 6.0 || listed["SIDE_SIDECHAIN"] == nil || listed["SIDE_SIDECHAIN"]["withdrawalFeeCurrency"] != "SIDE_SIDECHAIN" {
		t.Fatalf("GET /currencies: %v", listed)
	}

	addr := a.walletWhenSynced(t, "USDT_SIDECHAIN", "cust-side")
	tx := devnetPay(t, "USDT_SIDECHAIN", addr, "7.25")
	devnetMine(t, "sidechain", 12)
	h.depositAnnounced(t, tx, "USDT_SIDECHAIN", addr, "7.25", 12)

	byKind := a.jobsConfirmed(t, "sidechain", 2)
	if g := byKind["gas SIDE_SIDECHAIN"]; !strings.EqualFold(g.dest, addr) {
		t.Errorf("gas top-up %+v, want SIDE to %s (jobs %v)", g, addr, byKind)
	}
	if s := byKind["settle USDT_SIDECHAIN"]; s.amount != "7250000" || !strings.EqualFold(s.dest, dest) {
		t.Errorf("USDT_SIDECHAIN sweep %+v, want 7250000 to %s", s, dest)
	}
	if got := tokenBalance(t, side, usdt, dest); got != "7250000" {
		t.Errorf("the settlement address has %s units on the sidechain, want 7250000", got)
	}
	a.evmIndexed(t, side, "sidechain")
	if r := run(t, a.env, "ledger", "check"); r.code != 0 || !strings.Contains(r.stdout, "clean") {
		t.Fatalf("ledger check: %d %s %s", r.code, r.stdout, r.stderr)
	}
}
