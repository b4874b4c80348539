package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
)

// TestUSDCEndToEnd: USDC is an ERC-20 token configured like USDT (the stack
// lists it in chains.eth.tokens; no Go code names it outside the chain
// registry's defaults). Through the API a USDC wallet is made on its own
// key branch (not the merchant's ETH or USDT address), a payment becomes
// signed iqpay webhooks from status 0 to status 1 at 12 confirmations with
// the exact amount and its USD value, the deposit is swept to the merchant's
// settlement address with a gas top-up paid in ETH, GET /currencies lists
// USDC with its contract, and `sluice ledger check` is clean.
func TestUSDCEndToEnd(t *testing.T) {
	eth, err := jsonrpc.New(testenv.Get(t, "SLUICE_ETH_RPC"))
	if err != nil {
		t.Fatal(err)
	}
	usdc := testenv.Get(t, "SLUICE_USDC_CONTRACT")
	h := newHookReceiver(t)
	prices := deadPort(t)
	dest := devnetAddress(t, "eth")
	a := newAPIEnvWith(t, h.srv.URL+"/iqpay", []string{"--convert", "USD"}, "SLUICE_RATES_SOURCES=coingecko=http://"+prices,
		"SLUICE_SWEEPS_ENABLED=true")
	a.startSub(t, nil, "devnet", "prices", "--listen", prices)
	h.mu.Lock()
	h.secret = a.secret
	h.mu.Unlock()
	if r := run(t, a.env, "merchant", "update", "1", "--settle", "USDC="+dest); r.code != 0 {
		t.Fatalf("merchant update: %s", r.stderr)
	}
	a.fundGasTank(t)
	a.srv = startServeArgs(t, a.env)

	if c := a.currencies(t)["USDC"]; c == nil || c["chain"] != "eth" || c["decimals"] != 6.0 ||
		!strings.EqualFold(fmt.Sprint(c["contract"]), usdc) || c["confirmations"] != 12.0 {
		t.Fatalf("GET /currencies does not list USDC with its contract: %v", c)
	}

	addr := a.walletWhenSynced(t, "USDC", "cust-usdc")
	for _, other := range []string{"ETH", "USDT"} {
		if o := a.walletWhenSynced(t, other, "cust-usdc"); strings.EqualFold(o, addr) {
			t.Fatalf("the USDC wallet shares its address with the %s wallet: %s", other, addr)
		}
	}
	tx := devnetPay(t, "USDC", addr, "25.5")
	devnetMine(t, "eth", 12)
	raw := h.depositAnnounced(t, tx, "USDC", addr, "25.5", 12)
	if !strings.Contains(raw, `"convert_currency":"USD"`) || strings.Contains(raw, `"converted_amount":0,`) {
		t.Errorf("the body lacks a USD value: %s", raw)
	}

	// the sweep to the settlement address, its gas topped up in ETH
	byKind := a.jobsConfirmed(t, "eth", 2)
	if g := byKind["gas ETH"]; !strings.EqualFold(g.dest, addr) {
		t.Errorf("gas top-up %+v, want ETH to %s", g, addr)
	}
	if s := byKind["settle USDC"]; s.amount != "25500000" || !strings.EqualFold(s.dest, dest) {
		t.Errorf("USDC sweep %+v, want 25500000 to %s", s, dest)
	}
	if got := tokenBalance(t, eth, usdc, dest); got != "25500000" {
		t.Errorf("the settlement address has %s USDC units, want 25500000", got)
	}
	a.ethIndexed(t, eth)
	if r := run(t, a.env, "ledger", "check"); r.code != 0 || !strings.Contains(r.stdout, "clean") {
		t.Fatalf("ledger check: %d %s %s", r.code, r.stdout, r.stderr)
	}
}
