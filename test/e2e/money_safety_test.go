package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
)

// TestLTCMoneySafety attacks withdrawals on the real stack as issue 14's
// breaks 1 and 4 did, and checks solvency (the hot wallet on chain covers
// what the ledger owes) at each step:
//
//  1. A merchant with a small balance fires 20 withdrawals at once. Each
//     holds its amount and its fee reserve, so only what the balance covers
//     is accepted; every accepted one is paid on chain; the balance never
//     goes negative and `sluice ledger check` (with the solvency check)
//     stays clean.
//  2. A confirmed, swept deposit is reorged out deeper than its
//     confirmations: the sweep's credit is taken back, withdrawals of LTC
//     are paused (503, GET /currencies, sluice_withdrawals_paused 1, the
//     alert's input), and a withdrawal against the lost credit is refused.
//     When the transactions are mined again the credit returns, and after
//     `sluice withdrawals resume` withdrawals go out again.
func TestLTCMoneySafety(t *testing.T) {
	ltc := nodeFor(t, "ltc")
	a := newAPIEnv(t, "SLUICE_SWEEPS_FEE_RATE_CEILING=10", "SLUICE_SWEEPS_SOLVENCY_INTERVAL=1s")
	a.start(t, nil, "--chain", "ltc")
	top := ltc.height(t)
	waitFor(t, "ltc catch-up", 60*time.Second, func() bool { return a.checkpoint(t, "ltc") >= top })
	a.srv = startServeArgs(t, a.env, "--index=false")
	a.startSub(t, nil, "consume", "--chain", "ltc")
	metrics := deadPort(t)
	a.startSub(t, nil, "sweep", "--chain", "ltc", "--metrics-listen", metrics)
	wkey := a.newKey(t, "--scope", "withdraw,read", "--allow-ip", "127.0.0.0/8")
	var dest string
	if err := ltc.rpc.Call(context.Background(), "getnewaddress", &dest, "", "bech32"); err != nil {
		t.Fatal(err)
	}
	balance := func() *big.Int {
		t.Helper()
		r := run(t, a.env, "ledger", "show", "--json", "--merchant", fmt.Sprint(a.id))
		var rows []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
			t.Fatalf("ledger show: %s %s (%v)", r.stdout, r.stderr, err)
		}
		for _, row := range rows {
			if row["currency"] == "LTC" {
				return mustBig(t, fmt.Sprint(row["balance"]))
			}
		}
		return new(big.Int)
	}
	solvent := func(when string) {
		t.Helper()
		tip := ltc.height(t)
		waitFor(t, "indexed", 30*time.Second, func() bool { return a.checkpoint(t, "ltc") >= tip })
		if r := run(t, a.env, "ledger", "check"); r.code != 0 || !strings.Contains(r.stdout, "clean") {
			t.Fatalf("ledger check %s: %d %s %s", when, r.code, r.stdout, r.stderr)
		}
		if b := balance(); b.Sign() < 0 {
			t.Fatalf("balance %s %s", b, when)
		}
	}
	hotSweeps := func() (out []sweepRow) {
		for _, s := range a.sweeps(t) {
			var kind string
			if err := a.pool(t).QueryRow(context.Background(), "SELECT kind FROM sweeps WHERE id = $1", s.id).Scan(&kind); err == nil && kind == "hot" {
				out = append(out, s)
			}
		}
		return out
	}
	var lastMine time.Time
	mineSlowly := func() { // one block per sweep round at most: the sweeper needs the change confirmed
		if time.Since(lastMine) > 3*time.Second {
			devnetMine(t, "ltc", 1)
			lastMine = time.Now()
		}
	}
	fund := func(ext, ltcAmount string, n int) sweepRow {
		t.Helper()
		devnetPay(t, "LTC", a.walletWhenSynced(t, "LTC", ext), ltcAmount)
		devnetMine(t, "ltc", 6)
		waitFor(t, "the hot sweep broadcast", 60*time.Second, func() bool { return len(hotSweeps()) == n })
		devnetMine(t, "ltc", 1)
		waitFor(t, "the hot sweep confirmed", 60*time.Second, func() bool { return hotSweeps()[n-1].state == "confirmed" })
		return hotSweeps()[n-1]
	}

	// 1. twenty withdrawals at once against a balance that covers a few
	fund("small", "0.0005", 1)
	start := balance()
	reserve := ltcFeeReserve(t, a, wkey)
	each := big.NewInt(5000)
	fits := new(big.Int).Quo(start, new(big.Int).Add(each, reserve)).Int64()
	if fits < 2 || fits >= 20 {
		t.Fatalf("balance %s, reserve %s: %d withdrawals fit; the test wants some refused and some paid", start, reserve, fits)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := a.call(t, "POST", "/withdrawal/create/LTC", wkey, map[string]any{"address": dest, "amount": "0.00005", "extId": fmt.Sprintf("burst-%d", i)})
			mu.Lock()
			codes[code]++
			mu.Unlock()
			if code != 200 && !strings.Contains(fmt.Sprint(body["message"]), "balance") {
				t.Errorf("withdrawal %d: %d %v", i, code, body)
			}
		}()
	}
	wg.Wait()
	if codes[200] != int(fits) || codes[400] != 20-int(fits) {
		t.Fatalf("answers %v, want %d × 200 and the rest 400", codes, fits)
	}
	if b := balance(); b.Sign() < 0 {
		t.Fatalf("balance %s after the burst", b)
	}
	// paid one after another as the hot wallet's change confirms
	var txids []string
	waitFor(t, "every withdrawal confirmed", 5*time.Minute, func() bool {
		txids = txids[:0]
		for _, s := range a.sweeps(t) {
			if s.state != "confirmed" && s.state != "failed" && s.state != "replaced" {
				mineSlowly()
				return false
			}
			if s.state == "confirmed" && s.amount == "5000" {
				txids = append(txids, s.txid)
			}
		}
		return len(txids) == int(fits)
	})
	for _, txid := range txids {
		if got := paidTo(t, ltc, txid); got[dest] != "5000" {
			t.Errorf("withdrawal %s paid %v", txid, got)
		}
	}
	solvent("after the burst")
	if b := balance(); b.Sign() < 0 || b.Cmp(new(big.Int).Sub(start, new(big.Int).Mul(each, big.NewInt(fits)))) >= 0 {
		t.Fatalf("balance %s: the withdrawals' fees were not charged to it (start %s)", b, start)
	}

	// 2. a swept deposit reorged out deeper than its confirmations
	sw := fund("big", "1.3", 2)
	solvent("after the second deposit")
	var block string
	if err := a.pool(t).QueryRow(context.Background(), "SELECT block_hash FROM deposits WHERE sweep_id = $1", sw.id).Scan(&block); err != nil {
		t.Fatal(err)
	}
	if err := ltc.rpc.Call(context.Background(), "invalidateblock", nil, block); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sweep's credit taken back", 60*time.Second, func() bool { return hotSweeps()[1].state == "broadcast" })
	code, body := a.call(t, "POST", "/withdrawal/create/LTC", wkey, map[string]any{"address": dest, "amount": "1.28", "extId": "after-reorg"})
	if code != 503 || !strings.Contains(fmt.Sprint(body["message"]), "paused") {
		t.Fatalf("a withdrawal against the reorged credit: %d %v", code, body)
	}
	if b := balance(); b.Cmp(big.NewInt(100_000_000)) > 0 || b.Sign() < 0 {
		t.Fatalf("balance %s after the reorg still counts the sweep", b)
	}
	if code, body := a.call(t, "GET", "/currencies", wkey, nil); code != 200 || !strings.Contains(mustJSON(body), `"withdrawalsPaused":true`) {
		t.Errorf("GET /currencies while paused: %d %v", code, body)
	}
	waitFor(t, "sluice_withdrawals_paused{currency=LTC} 1", 30*time.Second, func() bool {
		resp, err := http.Get("http://" + metrics + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(raw), `sluice_withdrawals_paused{currency="LTC"} 1`)
	})
	if resp, err := http.Get("http://" + metrics + "/metrics"); err == nil {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// every process names itself: its role, version and commit
		if !strings.Contains(string(raw), `role="sweep"`) || !strings.Contains(string(raw), "sluice_build_info{") {
			t.Errorf("the sweeper's /metrics has no sluice_build_info with its role")
		}
	}
	if r := run(t, a.env, "withdrawals", "list"); !strings.Contains(r.stdout, "LTC") || !strings.Contains(r.stdout, "reorg") {
		t.Errorf("withdrawals list: %s %s", r.stdout, r.stderr)
	}
	if n := len(a.sweeps(t)); n != 2+int(fits) {
		t.Errorf("%d sweep jobs: a refused withdrawal planned one", n)
	}

	// the deposit and the sweep are mined again: the credit returns
	devnetMine(t, "ltc", 8)
	waitFor(t, "the sweep confirmed again", 90*time.Second, func() bool { return hotSweeps()[1].state == "confirmed" })
	solvent("after the transactions came back")
	if r := run(t, a.env, "withdrawals", "resume", "--currency", "LTC"); r.code != 0 || !strings.Contains(r.stdout, "resumed") {
		t.Fatalf("withdrawals resume: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if code, body := a.call(t, "POST", "/withdrawal/create/LTC", wkey, map[string]any{"address": dest, "amount": "1.28", "extId": "after-resume"}); code != 200 {
		t.Fatalf("a withdrawal after resuming: %d %v", code, body)
	}
	waitFor(t, "the withdrawal paid", 90*time.Second, func() bool {
		s := a.sweeps(t)
		last := s[len(s)-1]
		if last.state != "confirmed" {
			mineSlowly()
			return false
		}
		return paidTo(t, ltc, last.txid)[dest] == "128000000"
	})
	solvent("at the end")

	// 3. a store that lost a withdrawal (or a credit the chain never had): the
	// ledger owes more than the hot wallet holds. ledger check fails and the
	// sweepers' solvency check pauses LTC by itself.
	if _, err := a.pgExec(t, `INSERT INTO sweeps (chain, currency, merchant_id, kind, state, destination, amount, txid)
		VALUES ('ltc', 'LTC', $1, 'hot', 'confirmed', 'rltc1qforged', 7000000, 'forged')`, a.id); err != nil {
		t.Fatal(err)
	}
	if r := run(t, a.env, "ledger", "check", "--no-solvency"); r.code != 0 {
		// the forged sweep's transaction is not in the index either
		if !strings.Contains(r.stdout, "forged") {
			t.Errorf("ledger check --no-solvency: %d %s %s", r.code, r.stdout, r.stderr)
		}
	}
	r := run(t, a.env, "ledger", "check")
	if r.code == 0 || !strings.Contains(r.stdout, "solvency LTC") || !strings.Contains(r.stdout, "short by 7000000") {
		t.Errorf("ledger check with the hot wallet 0.07 LTC short: %d %s %s", r.code, r.stdout, r.stderr)
	}
	waitFor(t, "the shortfall pauses LTC", 120*time.Second, func() bool {
		r := run(t, a.env, "withdrawals", "list")
		return strings.Contains(r.stdout, "LTC") && strings.Contains(r.stdout, "solvency")
	})
	if code, body := a.call(t, "POST", "/withdrawal/create/LTC", wkey, map[string]any{"address": dest, "amount": "0.001", "extId": "after-shortfall"}); code != 503 ||
		!strings.Contains(fmt.Sprint(body["message"]), "solvency") {
		t.Errorf("a withdrawal while the hot wallet is short: %d %v", code, body)
	}
}

// TestUSDTWithdrawalGasIsTheMerchants is issue 14's break 2 on the real
// geth: a merchant with USDT but no ETH cannot make a USDT withdrawal (its
// gas would come from other merchants' ETH in the shared hot wallet), nor
// one of a millionth of a dollar; with ETH of its own, the withdrawal is
// paid and its gas comes off that merchant's ETH balance, and the hot
// wallet on chain still covers every balance.
func TestUSDTWithdrawalGasIsTheMerchants(t *testing.T) {
	eth, err := jsonrpc.New(testenv.Get(t, "SLUICE_ETH_RPC"))
	if err != nil {
		t.Fatal(err)
	}
	usdt := testenv.Get(t, "SLUICE_USDT_CONTRACT")
	a := newAPIEnv(t, "SLUICE_SWEEPS_ENABLED=true", "SLUICE_SWEEPS_SOLVENCY_INTERVAL=2s")
	a.fundGasTank(t)
	a.srv = startServeArgs(t, a.env)
	wkey := a.newKey(t, "--scope", "withdraw,read", "--allow-ip", "127.0.0.0/8")
	dest := devnetAddress(t, "eth")
	hot := func(currency string) string {
		var state string
		_ = a.pool(t).QueryRow(context.Background(), `SELECT state FROM sweeps WHERE kind = 'hot' AND currency = $1 ORDER BY id DESC LIMIT 1`,
			currency).Scan(&state)
		return state
	}
	withdraw := func(ext, amt string) (int, map[string]any) {
		return a.call(t, "POST", "/withdrawal/create/USDT", wkey, map[string]any{"address": dest, "amount": amt, "extId": ext})
	}
	ledgerRow := func(currency string) map[string]any {
		r := run(t, a.env, "ledger", "show", "--json", "--merchant", fmt.Sprint(a.id))
		var rows []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
			t.Fatalf("ledger show: %s %s (%v)", r.stdout, r.stderr, err)
		}
		for _, row := range rows {
			if row["currency"] == currency {
				return row
			}
		}
		return map[string]any{"balance": "0"}
	}

	devnetPay(t, "USDT", a.walletWhenSynced(t, "USDT", "usdt-in"), "25.5")
	waitFor(t, "the USDT hot sweep confirmed", 180*time.Second, func() bool { return hot("USDT") == "confirmed" })
	if code, body := withdraw("dust", "0.000001"); code != 400 || !strings.Contains(fmt.Sprint(body["message"]), "minimum") {
		t.Errorf("a withdrawal of 0.000001 USDT: %d %v", code, body)
	}
	if code, body := withdraw("no-eth", "5"); code != 400 || !strings.Contains(fmt.Sprint(body["message"]), "ETH") {
		t.Fatalf("a USDT withdrawal without ETH of the merchant's own for its gas: %d %v", code, body)
	}

	devnetPay(t, "ETH", a.walletWhenSynced(t, "ETH", "eth-in"), "0.5")
	waitFor(t, "the ETH hot sweep confirmed", 180*time.Second, func() bool { return hot("ETH") == "confirmed" })
	ethBefore := mustBig(t, fmt.Sprint(ledgerRow("ETH")["balance"]))
	code, body := withdraw("paid", "5")
	w, _ := body["data"].(map[string]any)
	if code != 200 || w == nil {
		t.Fatalf("a USDT withdrawal with ETH for its gas: %d %v", code, body)
	}
	var gas string
	waitFor(t, "the USDT withdrawal confirmed", 180*time.Second, func() bool {
		var status int
		err := a.pool(t).QueryRow(context.Background(), "SELECT status, gas::text FROM withdrawals WHERE ext_id = 'paid'").Scan(&status, &gas)
		return err == nil && status == 1
	})
	if got := tokenBalance(t, eth, usdt, dest); got != "5000000" {
		t.Errorf("the destination has %s USDT units, want 5000000", got)
	}
	// the gas came off this merchant's ETH, exactly
	want := new(big.Int).Sub(ethBefore, mustBig(t, gas))
	if got := fmt.Sprint(ledgerRow("ETH")["balance"]); gas == "0" || got != want.String() {
		t.Errorf("ETH balance %s after a USDT withdrawal that paid %s wei of gas; want %s", got, gas, want)
	}
	a.ethIndexed(t, eth)
	if r := run(t, a.env, "ledger", "check"); r.code != 0 || !strings.Contains(r.stdout, "clean") {
		t.Fatalf("ledger check (solvency of the ETH and USDT hot wallet): %d %s %s", r.code, r.stdout, r.stderr)
	}
}
