package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/sluicepay/sluice/amount"
)

// TestLTCWithdrawal: a deposit swept to the operator's hot wallet becomes
// the merchant's balance; a withdrawal from it goes out through the sweep
// runner for exactly its amount, its network fee charged to the balance;
// the withdrawal webhook comes at broadcast (status 0 with the txid) and at
// confirmation (status 1, gas = the fee on chain, timeConfirmed); a
// withdrawal over what is left is refused and moves nothing; the books
// check clean against the chain.
func TestLTCWithdrawal(t *testing.T) {
	ltc := nodeFor(t, "ltc")
	hooks := newHookReceiver(t)
	a := newAPIEnvHooks(t, hooks.srv.URL+"/hook")
	hooks.secret = a.secret
	a.start(t, nil, "--chain", "ltc")
	top := ltc.height(t)
	waitFor(t, "ltc catch-up", 60*time.Second, func() bool { return a.checkpoint(t, "ltc") >= top })
	a.srv = startServeArgs(t, a.env, "--index=false")
	a.startSub(t, nil, "consume", "--chain", "ltc")
	a.startSub(t, nil, "webhooks")
	a.startSub(t, nil, "sweep", "--chain", "ltc")

	// 0.5 LTC to the hot wallet (no settlement address): the balance
	addr := a.walletWhenSynced(t, "LTC", "payout-source")
	devnetPay(t, "LTC", addr, "0.5")
	devnetMine(t, "ltc", 6)
	waitFor(t, "the hot sweep broadcast", 60*time.Second, func() bool { s := a.sweeps(t); return len(s) == 1 && s[0].state == "broadcast" })
	devnetMine(t, "ltc", 1)
	waitFor(t, "the hot sweep confirmed", 60*time.Second, func() bool { return a.sweeps(t)[0].state == "confirmed" })
	balance := mustBig(t, a.sweeps(t)[0].amount)

	wkey := a.newKey(t, "--scope", "withdraw,read", "--allow-ip", "127.0.0.0/8")
	var dest string
	if err := ltc.rpc.Call(context.Background(), "getnewaddress", &dest, "", "bech32"); err != nil {
		t.Fatal(err)
	}
	code, body := a.call(t, "POST", "/withdrawal/create/LTC", wkey, map[string]any{"address": dest, "amount": "0.2", "extId": "payout-1"})
	w, _ := body["data"].(map[string]any)
	if code != 200 || w == nil {
		t.Fatalf("withdrawal: %d %v", code, body)
	}
	id := mustJSON(w["id"])
	waitFor(t, "the withdrawal broadcast", 60*time.Second, func() bool { s := a.sweeps(t); return len(s) == 2 && s[1].state == "broadcast" })
	txid := a.sweeps(t)[1].txid
	waitFor(t, "the status-0 withdrawal webhook", 30*time.Second, func() bool { return len(hooks.bodies(txid)) >= 1 })
	devnetMine(t, "ltc", 1)
	waitFor(t, "the withdrawal confirmed", 60*time.Second, func() bool { return a.sweeps(t)[1].state == "confirmed" })
	waitFor(t, "the status-1 withdrawal webhook", 30*time.Second, func() bool { return len(hooks.bodies(txid)) >= 2 })

	s := a.sweeps(t)[1]
	if got := paidTo(t, ltc, txid); got[dest] != "20000000" {
		t.Errorf("the chain paid %v, want 20000000 to %s", got, dest)
	}
	gas, err := amount.FormatString(s.feeNet, 8)
	if err != nil || s.feeNet == "0" {
		t.Fatalf("network fee %q: %v", s.feeNet, err)
	}
	bs := hooks.bodies(txid)
	for i, want := range []map[string]string{
		{"id": id, "address": dest, "currency": "LTC", "amount": "0.2", "txid": txid, "status": "0", "timeConfirmed": "0", "kind": "withdrawal", "ext_id": "payout-1"},
		{"id": id, "amount": "0.2", "txid": txid, "status": "1", "gas": gas, "gas_base_units": s.feeNet, "gas_currency": "LTC"},
	} {
		for k, v := range want {
			if got := mustJSON(bs[i][k]); strings.Trim(got, `"`) != v {
				t.Errorf("webhook %d: %s = %s, want %s (%v)", i, k, got, v, bs[i])
			}
		}
	}
	if mustJSON(bs[1]["timeConfirmed"]) == "0" || len(hooks.unsig) != 0 {
		t.Errorf("confirmed webhook %v; unsigned requests %v", bs[1], hooks.unsig)
	}
	// both as api/openapi.yaml describes the withdrawal webhook
	resp, err := http.Get(a.srv.url + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if err := doc.Components.Schemas["WithdrawalWebhook"].Value.VisitJSON(b); err != nil {
			t.Errorf("withdrawal webhook %v does not match the spec: %v", b, err)
		}
	}
	if code, body := a.call(t, "GET", "/withdrawal/"+id, wkey, nil); code != 200 || !strings.Contains(mustJSON(body), `"status":1`) ||
		!strings.Contains(mustJSON(body), txid) {
		t.Errorf("get withdrawal: %d %v", code, body)
	}

	// what is left is the balance less the amount and the fee it paid (the
	// rest of its reserve came back); a withdrawal must leave room for its
	// own fee reserve (GET /currencies): one base unit more is refused
	left := balance.Sub(balance, mustBig(t, "20000000"))
	left.Sub(left, mustBig(t, s.feeNet))
	reserve := ltcFeeReserve(t, a, wkey)
	most := new(big.Int).Sub(left, reserve)
	over, _ := amount.FormatString(new(big.Int).Add(most, big.NewInt(1)).String(), 8)
	if code, body := a.call(t, "POST", "/withdrawal/create/LTC", wkey, map[string]any{"address": dest, "amount": over, "extId": "payout-2"}); code != 400 ||
		!strings.Contains(fmt.Sprint(body["message"]), "balance") {
		t.Errorf("a withdrawal of %s over the balance less the fee reserve %s: %d %v", over, reserve, code, body)
	}
	left.Add(left, big.NewInt(1)) // the check below takes one off
	if n := len(a.sweeps(t)); n != 2 {
		t.Errorf("%d sweep jobs after a refused withdrawal", n)
	}
	tip := ltc.height(t)
	waitFor(t, "the withdrawal indexed", 30*time.Second, func() bool { return a.checkpoint(t, "ltc") >= tip })
	if r := run(t, a.env, "ledger", "check"); r.code != 0 || !strings.Contains(r.stdout, "clean") {
		t.Fatalf("ledger check: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r := run(t, a.env, "ledger", "show", "--json", "--merchant", fmt.Sprint(a.id))
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("ledger show: %s %s (%v)", r.stdout, r.stderr, err)
	}
	if want := left.Sub(left, mustBig(t, "1")).String(); mustJSON(rows[0]["balance"]) != `"`+want+`"` {
		t.Errorf("balance %v, want %s", rows[0]["balance"], want)
	}
}

// ltcFeeReserve is the LTC withdrawal fee reserve GET /currencies announces, in litoshi.
func ltcFeeReserve(t *testing.T, a *apiEnv, key string) *big.Int {
	t.Helper()
	code, body := a.call(t, "GET", "/currencies", key, nil)
	list, _ := body["data"].([]any)
	for _, c := range list {
		m, _ := c.(map[string]any)
		if m["currency"] != "LTC" {
			continue
		}
		units, err := amount.Parse(fmt.Sprint(m["withdrawalFeeReserve"]), 8)
		if err != nil || units.Sign() <= 0 || m["withdrawalFeeCurrency"] != "LTC" {
			t.Fatalf("LTC withdrawal fee reserve %v: %v", m, err)
		}
		return units
	}
	t.Fatalf("GET /currencies: %d %v", code, body)
	return nil
}
