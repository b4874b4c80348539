package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
	"github.com/sluicepay/sluice/payments/keys"
	ethsweep "github.com/sluicepay/sluice/payments/sweep/ethereum"
	"github.com/sluicepay/sluice/stores"
	"github.com/sluicepay/sluice/watch"
)

// paidTo reads from the LTC node what a transaction paid to each address, exactly.
func paidTo(t *testing.T, n *node, txid string) map[string]string {
	t.Helper()
	var tx struct {
		Vout []struct {
			Value        json.Number `json:"value"`
			ScriptPubKey struct {
				Address   string   `json:"address"`
				Addresses []string `json:"addresses"` // litecoind 0.21
			} `json:"scriptPubKey"`
		} `json:"vout"`
	}
	if err := n.rpc.Call(context.Background(), "getrawtransaction", &tx, txid, 1); err != nil { // 1: btcd wants an int
		t.Fatalf("getrawtransaction %s: %v", txid, err)
	}
	out := map[string]string{}
	for _, o := range tx.Vout {
		v, err := amount.Parse(o.Value.String(), 8)
		if err != nil {
			t.Fatalf("output value %s: %v", o.Value, err)
		}
		a := o.ScriptPubKey.Address
		if a == "" && len(o.ScriptPubKey.Addresses) == 1 {
			a = o.ScriptPubKey.Addresses[0]
		}
		out[a] = v.String()
	}
	return out
}

type sweepRow struct {
	id                                      int64
	state, txid, amount, feeService, feeNet string
}

// sweepJob is a sweep job of one chain as the e2e tests check it.
type sweepJob struct{ kind, currency, state, amount, fee, net, dest string }

// jobsConfirmed waits until chain has n sweep jobs, all confirmed, and
// returns them by "kind currency".
func (a *apiEnv) jobsConfirmed(t *testing.T, chain string, n int) map[string]sweepJob {
	t.Helper()
	jobs := func() []sweepJob {
		rows, err := a.pool(t).Query(context.Background(), `SELECT kind, currency, state, amount::text, fee_service::text,
			fee_network::text, destination FROM sweeps WHERE chain = $1 ORDER BY id`, chain)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []sweepJob
		for rows.Next() {
			var j sweepJob
			if err := rows.Scan(&j.kind, &j.currency, &j.state, &j.amount, &j.fee, &j.net, &j.dest); err != nil {
				t.Fatal(err)
			}
			out = append(out, j)
		}
		return out
	}
	waitFor(t, fmt.Sprintf("%d %s sweep jobs confirmed", n, chain), 180*time.Second, func() bool {
		js := jobs()
		for _, j := range js {
			if j.state != "confirmed" {
				return false
			}
		}
		return len(js) == n
	})
	out := map[string]sweepJob{}
	for _, j := range jobs() {
		out[j.kind+" "+j.currency] = j
	}
	return out
}

func (a *apiEnv) sweeps(t *testing.T) []sweepRow {
	t.Helper()
	pg := a.pool(t)
	rows, err := pg.Query(context.Background(), `SELECT id, state, txid, amount::text, fee_service::text, fee_network::text
		FROM sweeps WHERE kind <> 'hot' OR merchant_id IS NOT NULL ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []sweepRow
	for rows.Next() {
		var s sweepRow
		if err := rows.Scan(&s.id, &s.state, &s.txid, &s.amount, &s.feeService, &s.feeNet); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestLTCSweepToSettlement: a confirmed LTC deposit is swept to the
// merchant's settlement address for exactly amount − network fee − service
// fee, the service fee at the operator's fee address; `sluice ledger check`
// finds the books equal to the chain. Then sluice is killed (-9) right after
// a sweep is signed and stored, and right after it is sent but before that
// is recorded: after each restart the same transaction goes out, once.
func TestLTCSweepToSettlement(t *testing.T) {
	ltc := nodeFor(t, "ltc")
	var dest, feeAddr string
	for _, p := range []*string{&dest, &feeAddr} {
		if err := ltc.rpc.Call(context.Background(), "getnewaddress", p, "", "bech32"); err != nil {
			t.Fatal(err)
		}
	}
	a := newAPIEnv(t, "SLUICE_FEE_ADDRESS_LTC="+feeAddr)
	if r := run(t, a.env, "merchant", "update", "1", "--settle", "LTC="+dest, "--fee", "LTC=1"); r.code != 0 {
		t.Fatalf("merchant update: %s", r.stderr)
	}
	a.start(t, nil, "--chain", "ltc")
	top := ltc.height(t)
	waitFor(t, "ltc catch-up", 60*time.Second, func() bool { return a.checkpoint(t, "ltc") >= top })
	a.srv = startServeArgs(t, a.env, "--index=false")
	a.startSub(t, nil, "consume", "--chain", "ltc")
	sweeper := a.startSub(t, nil, "sweep", "--chain", "ltc")

	addr := a.walletWhenSynced(t, "LTC", "sweep-1")
	devnetPay(t, "LTC", addr, "0.5")
	devnetMine(t, "ltc", 6)
	waitFor(t, "the sweep broadcast", 60*time.Second, func() bool {
		s := a.sweeps(t)
		return len(s) == 1 && s[0].state == "broadcast"
	})
	devnetMine(t, "ltc", 1)
	waitFor(t, "the sweep confirmed", 60*time.Second, func() bool { s := a.sweeps(t); return s[0].state == "confirmed" })
	s := a.sweeps(t)[0]
	got := paidTo(t, ltc, s.txid)
	if s.feeService != "500000" || got[feeAddr] != "500000" {
		t.Errorf("service fee: ledger %s, chain %v (want 1%% of 0.5 LTC = 500000)", s.feeService, got)
	}
	want := mustBig(t, "50000000")
	want.Sub(want, mustBig(t, s.feeService))
	want.Sub(want, mustBig(t, s.feeNet))
	if got[dest] != want.String() || s.amount != want.String() {
		t.Errorf("settled: chain %s, ledger %s, want 50000000 - %s - %s = %s", got[dest], s.amount, s.feeService, s.feeNet, want)
	}
	tip := ltc.height(t)
	waitFor(t, "the sweep indexed", 30*time.Second, func() bool { return a.checkpoint(t, "ltc") >= tip })
	if r := run(t, a.env, "ledger", "check"); r.code != 0 || !strings.Contains(r.stdout, "clean") {
		t.Fatalf("ledger check: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// kill -9 at the two instants that matter: signed and stored, and sent but not recorded
	for i, point := range []string{"sweep:planned", "sweep:signed", "sweep:sent"} {
		_ = sweeper.cmd.Process.Signal(syscall.SIGKILL)
		<-sweeper.done
		crashed := a.startSub(t, []string{"SLUICE_FAULT=" + point}, "sweep", "--chain", "ltc")
		addr := a.walletWhenSynced(t, "LTC", "crash-"+point)
		devnetPay(t, "LTC", addr, "0.25")
		devnetMine(t, "ltc", 6)
		select {
		case <-crashed.done:
		case <-time.After(60 * time.Second):
			t.Fatalf("sluice sweep did not reach the fault point %s:\n%s", point, crashed.stderr.String())
		}
		if s := a.sweeps(t); len(s) != i+2 || s[i+1].state != map[string]string{"sweep:planned": "planned", "sweep:signed": "signed",
			"sweep:sent": "signed"}[point] {
			t.Fatalf("after the kill at %s: sweeps %+v", point, s)
		}
		sweeper = a.startSub(t, nil, "sweep", "--chain", "ltc")
		waitFor(t, "the sweep after "+point+" broadcast", 60*time.Second, func() bool {
			s := a.sweeps(t)
			return len(s) == i+2 && s[i+1].state == "broadcast"
		})
		devnetMine(t, "ltc", 1)
		waitFor(t, "the sweep after "+point+" confirmed", 60*time.Second, func() bool { return a.sweeps(t)[i+1].state == "confirmed" })
		// one sweep transaction for the deposit: its output spent once, by the stored bytes
		s := a.sweeps(t)[i+1]
		if got := paidTo(t, ltc, s.txid); got[dest] != s.amount {
			t.Errorf("after %s: the chain paid %v, the ledger says %s", point, got, s.amount)
		}
	}
	tip = ltc.height(t)
	waitFor(t, "the sweeps indexed", 30*time.Second, func() bool { return a.checkpoint(t, "ltc") >= tip })
	if r := run(t, a.env, "ledger", "check"); r.code != 0 || !strings.Contains(r.stdout, "clean") {
		t.Fatalf("ledger check after the crashes: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r := run(t, a.env, "ledger", "show", "--merchant", "1", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"unswept": "0"`) {
		t.Errorf("ledger show: %s %s", r.stdout, r.stderr)
	}
}

func (a *apiEnv) pool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	if a.pgPool == nil {
		pg, err := stores.OpenPostgres(context.Background(), a.pg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pg.Close)
		a.pgPool = pg
	}
	return a.pgPool
}

func mustBig(t *testing.T, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("not an integer: %q", s)
	}
	return v
}

// TestLitepayForwardAndDonation follows litepay's spec on the real stack:
// "GET /api/receive" needs no key (api.receive_merchant) and answers the
// input_address; its errors are "200 OK" with status error; the "system only
// requires one confirmation to forward the payment": with the chain held at
// one confirmation the forward is in the node's mempool, paying the
// destination less the 1% fee; "each time a payment is forwarded the
// callback URL will be called" (with *ok* it stops), while a payment worth
// under 1 USD is a donation: never forwarded, no callback; and a receive
// address never fires the merchant's iqpay webhooks.
func TestLitepayForwardAndDonation(t *testing.T) {
	ltc := nodeFor(t, "ltc")
	var dest, feeAddr string
	for _, p := range []*string{&dest, &feeAddr} {
		if err := ltc.rpc.Call(context.Background(), "getnewaddress", p, "", "bech32"); err != nil {
			t.Fatal(err)
		}
	}
	prices := deadPort(t)
	hooks := newHookReceiver(t)
	a := newAPIEnvHooks(t, hooks.srv.URL+"/iqpay", "SLUICE_FEE_ADDRESS_LTC="+feeAddr, "SLUICE_RATES_SOURCES=coingecko=http://"+prices,
		"SLUICE_WEBHOOKS_ALLOW_PRIVATE_TARGETS=loopback")
	hooks.secret = a.secret
	a.env = append(a.env, fmt.Sprintf("SLUICE_API_RECEIVE_MERCHANT=%d", a.id))
	a.startSub(t, nil, "devnet", "prices", "--listen", prices)
	a.start(t, nil, "--chain", "ltc")
	top := ltc.height(t)
	waitFor(t, "ltc catch-up", 60*time.Second, func() bool { return a.checkpoint(t, "ltc") >= top })
	a.srv = startServeArgs(t, a.env, "--index=false")
	a.startSub(t, nil, "consume", "--chain", "ltc")
	a.startSub(t, nil, "sweep", "--chain", "ltc")
	a.startSub(t, nil, "webhooks")

	// keyless, as the spec's PHP example calls it
	receive := func(cb string) string {
		q := url.Values{"method": {"ltc"}, "address": {dest}, "callback": {hooks.srv.URL + cb}}
		var in string
		waitFor(t, "a receive address (index synced)", 60*time.Second, func() bool {
			code, body := a.call(t, "GET", "/api/receive?"+q.Encode(), "", nil)
			in, _ = body["input_address"].(string)
			return code == 200 && in != "" // litepay's errors (503 while the index syncs) are 200 too
		})
		return in
	}
	// an error as litepay answers it: 200, status error, the spec's message
	if code, body := a.call(t, "GET", "/api/receive?"+url.Values{"method": {"ltc"}, "address": {dest}, "callback_req": {"1"}}.Encode(), "", nil); code != 200 ||
		body["status"] != "error" || body["message"] != "You requested callback_req 1 and no callback_url" {
		t.Errorf("callback_req 1 without a callback: %d %v", code, body)
	}
	small, big := receive("/cb-small"), receive("/cb-big")
	devnetPay(t, "LTC", small, "0.01") // 0.7235 USD
	devnetPay(t, "LTC", big, "0.05")   // 3.6175 USD
	devnetMine(t, "ltc", 1)
	held := ltc.height(t)
	waitFor(t, "the forward broadcast at one confirmation", 60*time.Second, func() bool {
		s := a.sweeps(t)
		return len(s) == 1 && s[0].state == "broadcast"
	})
	s := a.sweeps(t)
	if h := ltc.height(t); h != held {
		t.Fatalf("the chain moved (%d → %d): the forward must come at one confirmation", held, h)
	}
	got := paidTo(t, ltc, s[0].txid) // from the node's mempool
	if s[0].feeService != "50000" || got[feeAddr] != "50000" {
		t.Errorf("receive fee: ledger %s, chain %v (want 1%% of 0.05 LTC)", s[0].feeService, got)
	}
	want := mustBig(t, "5000000")
	want.Sub(want, mustBig(t, "50000"))
	want.Sub(want, mustBig(t, s[0].feeNet))
	if got[dest] != want.String() {
		t.Errorf("forwarded %s, want %s", got[dest], want)
	}
	// the callback comes with the forward, still at one confirmation
	waitFor(t, "the callback of the forwarded payment", 30*time.Second, func() bool { return len(hooks.callbacks("/cb-big")) > 0 })
	if cb := hooks.callbacks("/cb-big")[0]; cb.Get("value") != "5000000" || cb.Get("input_address") != big ||
		cb.Get("destination_address") != dest || cb.Get("confirmations") != "1" {
		t.Errorf("callback %v", cb)
	}
	devnetMine(t, "ltc", 1)
	waitFor(t, "the forward confirmed", 60*time.Second, func() bool { return a.sweeps(t)[0].state == "confirmed" })
	devnetMine(t, "ltc", 6)
	time.Sleep(6 * time.Second) // more sweep and webhook rounds: the donation must still not move nor be announced
	if s := a.sweeps(t); len(s) != 1 {
		t.Fatalf("sweeps %+v: the payment under 1 USD was forwarded", s)
	}
	if n := len(hooks.callbacks("/cb-big")); n != 1 {
		t.Errorf("%d callbacks for the forwarded payment: *ok* ends them", n)
	}
	if cbs := hooks.callbacks("/cb-small"); len(cbs) != 0 {
		t.Errorf("the donation was announced: %v", cbs)
	}
	if iq := hooks.callbacks("/iqpay"); len(iq) != 0 {
		t.Errorf("receive addresses fired %d iqpay webhooks", len(iq))
	}
	var donation bool
	if err := a.pool(t).QueryRow(context.Background(), `SELECT d.donation FROM deposits d JOIN wallets w ON w.id = d.wallet_id
		WHERE w.address = $1`, small).Scan(&donation); err != nil || !donation {
		t.Errorf("the 0.7 USD payment is not recorded as a donation: %v %v", donation, err)
	}
	if r := run(t, a.env, "deposits", "list"); !strings.Contains(r.stdout, "confirmed,donation") {
		t.Errorf("deposits list does not show the donation: %s", r.stdout)
	}
}

// TestBTCSweepToSettlement: the same on btcd: a confirmed BTC deposit (2
// confirmations) reaches the settlement address for exactly amount − network
// fee − service fee, the fee at the operator's address, books clean.
func TestBTCSweepToSettlement(t *testing.T) {
	btc := nodeFor(t, "btc")
	dest, feeAddr := devnetAddress(t, "btc"), devnetAddress(t, "btc")
	a := newAPIEnv(t, "SLUICE_FEE_ADDRESS_BTC="+feeAddr)
	if r := run(t, a.env, "merchant", "update", "1", "--settle", "BTC="+dest, "--fee", "BTC=2.5"); r.code != 0 {
		t.Fatalf("merchant update: %s", r.stderr)
	}
	a.start(t, nil, "--chain", "btc")
	top := btc.height(t)
	waitFor(t, "btc catch-up", 60*time.Second, func() bool { return a.checkpoint(t, "btc") >= top })
	a.srv = startServeArgs(t, a.env, "--index=false")
	a.startSub(t, nil, "consume", "--chain", "btc")
	a.startSub(t, nil, "sweep", "--chain", "btc")
	addr := a.walletWhenSynced(t, "BTC", "sweep-btc")
	devnetPay(t, "BTC", addr, "0.4")
	devnetMine(t, "btc", 2)
	waitFor(t, "the sweep broadcast", 60*time.Second, func() bool {
		s := a.sweeps(t)
		return len(s) == 1 && s[0].state == "broadcast"
	})
	devnetMine(t, "btc", 1)
	waitFor(t, "the sweep confirmed", 60*time.Second, func() bool { return a.sweeps(t)[0].state == "confirmed" })
	s := a.sweeps(t)[0]
	got := paidTo(t, btc, s.txid)
	want := mustBig(t, "40000000")
	want.Sub(want, mustBig(t, "1000000"))
	want.Sub(want, mustBig(t, s.feeNet))
	if s.feeService != "1000000" || got[feeAddr] != "1000000" || got[dest] != want.String() || s.amount != want.String() {
		t.Errorf("sweep %+v paid %v; want %s to %s and 1000000 to %s", s, got, want, dest, feeAddr)
	}
	tip := btc.height(t)
	waitFor(t, "the sweep indexed", 30*time.Second, func() bool { return a.checkpoint(t, "btc") >= tip })
	if r := run(t, a.env, "ledger", "check"); r.code != 0 || !strings.Contains(r.stdout, "clean") {
		t.Fatalf("ledger check: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// devnetAddress is a fresh destination on the test stack's chain.
func devnetAddress(t *testing.T, chain string) string {
	t.Helper()
	r := run(t, nil, "devnet", "address", "--dir", testenv.Get(t, "SLUICE_STACK_DIR"), "--chain", chain)
	if r.code != 0 {
		t.Fatalf("devnet address: %s", r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

// TestStuckSweepBumped: a sweep left unconfirmed past sweeps.bump_after is
// replaced by one paying more (RBF). btcd takes the replacement, and the
// chain mines it; litecoind (without -mempoolreplacement) refuses it, the
// chain mines the original, and the original counts. Either way exactly one
// transaction pays the settlement address, its job alone is confirmed, and
// the books check clean.
func TestStuckSweepBumped(t *testing.T) {
	for _, c := range []struct{ chain, currency, pay, mine string }{{"btc", "BTC", "0.4", "2"}, {"ltc", "LTC", "0.4", "6"}} {
		t.Run(c.chain, func(t *testing.T) {
			n := nodeFor(t, c.chain)
			dest := devnetAddress(t, c.chain)
			a := newAPIEnv(t, "SLUICE_SWEEPS_BUMP_AFTER=2s")
			if r := run(t, a.env, "merchant", "update", "1", "--settle", c.currency+"="+dest); r.code != 0 {
				t.Fatalf("merchant update: %s", r.stderr)
			}
			a.start(t, nil, "--chain", c.chain)
			top := n.height(t)
			waitFor(t, "catch-up", 60*time.Second, func() bool { return a.checkpoint(t, c.chain) >= top })
			a.srv = startServeArgs(t, a.env, "--index=false")
			a.startSub(t, nil, "consume", "--chain", c.chain)
			a.startSub(t, nil, "sweep", "--chain", c.chain)
			addr := a.walletWhenSynced(t, c.currency, "stuck-"+c.chain)
			devnetPay(t, c.currency, addr, c.pay)
			mine, _ := strconv.Atoi(c.mine)
			devnetMine(t, c.chain, mine)
			waitFor(t, "a bump", 90*time.Second, func() bool {
				s := a.sweeps(t)
				return len(s) >= 2 && s[0].state == "replaced"
			})
			first := a.sweeps(t)[0]
			if c.chain == "btc" {
				// the node dropped the original for its replacement
				waitFor(t, "the replacement in the mempool", 30*time.Second, func() bool {
					s := a.sweeps(t)
					last := s[len(s)-1]
					_, err := n.rawTx(last.txid)
					return last.state == "broadcast" && err == nil
				})
				if _, err := n.rawTx(first.txid); err == nil {
					t.Errorf("btcd still has the replaced %s", first.txid)
				}
			}
			devnetMine(t, c.chain, 1)
			waitFor(t, "one sweep confirmed", 60*time.Second, func() bool {
				for _, s := range a.sweeps(t) {
					if s.state == "confirmed" {
						return true
					}
				}
				return false
			})
			time.Sleep(3 * time.Second) // a few more rounds: nothing else may confirm or be sent
			var confirmed []sweepRow
			for _, s := range a.sweeps(t) {
				switch s.state {
				case "confirmed":
					confirmed = append(confirmed, s)
				case "replaced":
				default:
					t.Errorf("job %d left %s", s.id, s.state)
				}
			}
			if len(confirmed) != 1 {
				t.Fatalf("confirmed jobs: %+v", confirmed)
			}
			s := confirmed[0]
			if c.chain == "ltc" && s.id != first.id {
				t.Errorf("litecoind mined the original %s, but job %d counts", first.txid, s.id)
			}
			if c.chain == "btc" && s.id == first.id {
				t.Errorf("btcd mined a replacement, but the original job counts")
			}
			want := mustBig(t, strings.ReplaceAll(c.pay, "0.", "")+"0000000")
			want.Sub(want, mustBig(t, s.feeNet))
			if got := paidTo(t, n, s.txid); got[dest] != want.String() || s.amount != want.String() {
				t.Errorf("paid %v, ledger %s; want %s to %s", got, s.amount, want, dest)
			}
			if mustBig(t, s.feeNet).Cmp(mustBig(t, first.feeNet)) < 0 {
				t.Errorf("the confirmed fee %s is under the first %s", s.feeNet, first.feeNet)
			}
			tip := n.height(t)
			waitFor(t, "the sweep indexed", 30*time.Second, func() bool { return a.checkpoint(t, c.chain) >= tip })
			if r := run(t, a.env, "ledger", "check"); r.code != 0 || !strings.Contains(r.stdout, "clean") {
				t.Fatalf("ledger check: %d %s %s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// rawTx asks the node for a transaction it has, in its mempool or chain.
func (n *node) rawTx(txid string) (json.RawMessage, error) {
	var raw json.RawMessage
	err := n.rpc.Call(context.Background(), "getrawtransaction", &raw, txid, 0)
	return raw, err
}

// TestETHAndUSDTSweepToSettlement: ETH and USDT deposits made through the
// API and paid on the stack's geth are swept by `sluice serve` (sweeps
// enabled) to the merchant's settlement address once confirmed: ETH for
// exactly amount − service fee − the network fee the ledger recorded, USDT
// for exactly amount − service fee after the gas tank topped the deposit
// address up; the service fees reach the operator's fee address; the books
// check clean against the chain.
func TestETHAndUSDTSweepToSettlement(t *testing.T) {
	eth, err := jsonrpc.New(testenv.Get(t, "SLUICE_ETH_RPC"))
	if err != nil {
		t.Fatal(err)
	}
	usdt := testenv.Get(t, "SLUICE_USDT_CONTRACT")
	dest, feeAddr := devnetAddress(t, "eth"), devnetAddress(t, "eth")
	a := newAPIEnv(t, "SLUICE_SWEEPS_ENABLED=true", "SLUICE_FEE_ADDRESS_ETH="+feeAddr, "SLUICE_FEE_ADDRESS_USDT="+feeAddr)
	if r := run(t, a.env, "merchant", "update", "1", "--settle", "ETH="+dest, "--settle", "USDT="+dest,
		"--fee", "ETH=2", "--fee", "USDT=2"); r.code != 0 {
		t.Fatalf("merchant update: %s", r.stderr)
	}
	a.fundGasTank(t)
	a.srv = startServeArgs(t, a.env)
	ethAddr := a.walletWhenSynced(t, "ETH", "sweep-eth")
	usdtAddr := a.walletWhenSynced(t, "USDT", "sweep-usdt")
	devnetPay(t, "ETH", ethAddr, "0.5")
	devnetPay(t, "USDT", usdtAddr, "25.5")

	// the two sweeps, the USDT address's gas top-up, and the two fee collections
	byKind := a.jobsConfirmed(t, "eth", 5)

	se, su, fe, fu := byKind["settle ETH"], byKind["settle USDT"], byKind["fee ETH"], byKind["fee USDT"]
	if g := byKind["gas ETH"]; g.dest != usdtAddr && !strings.EqualFold(g.dest, usdtAddr) {
		t.Errorf("gas top-up %+v, want to %s", g, usdtAddr)
	}
	wantETH := mustBig(t, "500000000000000000")
	wantETH.Sub(wantETH, mustBig(t, "10000000000000000")) // 2%
	wantETH.Sub(wantETH, mustBig(t, se.net))
	if se.amount != wantETH.String() || se.fee != "10000000000000000" {
		t.Errorf("ETH sweep %+v, want %s and a fee of 10000000000000000", se, wantETH)
	}
	if got := ethBalance(t, eth, dest); got != wantETH.String() {
		t.Errorf("the settlement address has %s wei, want %s", got, wantETH)
	}
	if su.amount != "24990000" || su.fee != "510000" {
		t.Errorf("USDT sweep %+v, want 24990000 and a fee of 510000", su)
	}
	if got := tokenBalance(t, eth, usdt, dest); got != "24990000" {
		t.Errorf("the settlement address has %s USDT units, want 24990000", got)
	}
	if got := tokenBalance(t, eth, usdt, feeAddr); got != fu.amount || fu.amount != "510000" {
		t.Errorf("the fee address has %s USDT units; fee job %+v", got, fu)
	}
	if got := ethBalance(t, eth, feeAddr); got != fe.amount || fe.amount == "0" {
		t.Errorf("the fee address has %s wei; fee job %+v", got, fe)
	}
	a.ethIndexed(t, eth)
	if r := run(t, a.env, "ledger", "check"); r.code != 0 || !strings.Contains(r.stdout, "clean") {
		t.Fatalf("ledger check: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// ethIndexed waits until the index has geth's head (what ledger check reads).
func (a *apiEnv) ethIndexed(t *testing.T, eth *jsonrpc.Client) {
	t.Helper()
	a.evmIndexed(t, eth, "eth")
}

// evmIndexed waits until the index of EVM chain key reaches its node's head.
func (a *apiEnv) evmIndexed(t *testing.T, node *jsonrpc.Client, key string) {
	t.Helper()
	eth := node
	var head string
	if err := eth.Call(context.Background(), "eth_blockNumber", &head); err != nil {
		t.Fatal(err)
	}
	tip, _ := strconv.ParseInt(strings.TrimPrefix(head, "0x"), 16, 64)
	waitFor(t, key+"'s head indexed", 60*time.Second, func() bool { return a.checkpoint(t, key) >= tip })
}

// envOf is the value of key in env (KEY=VALUE entries), the last one winning.
func envOf(env []string, key string) string {
	v := ""
	for _, e := range env {
		if k, val, ok := strings.Cut(e, "="); ok && k == key {
			v = val
		}
	}
	return v
}

func ethBalance(t *testing.T, c *jsonrpc.Client, addr string) string {
	t.Helper()
	var hex string
	if err := c.Call(context.Background(), "eth_getBalance", &hex, addr, "latest"); err != nil {
		t.Fatal(err)
	}
	v, ok := new(big.Int).SetString(strings.TrimPrefix(hex, "0x"), 16)
	if !ok {
		t.Fatalf("balance %q", hex)
	}
	return v.String()
}

func tokenBalance(t *testing.T, c *jsonrpc.Client, token, holder string) string {
	t.Helper()
	data := "0x70a08231" + strings.Repeat("0", 24) + strings.ToLower(strings.TrimPrefix(holder, "0x")) // balanceOf(address)
	var hex string
	if err := c.Call(context.Background(), "eth_call", &hex, map[string]string{"to": token, "data": data}, "latest"); err != nil {
		t.Fatal(err)
	}
	v, ok := new(big.Int).SetString(strings.TrimPrefix(hex, "0x"), 16)
	if !ok {
		t.Fatalf("balanceOf %q", hex)
	}
	return v.String()
}

// TestDeadCallbackDomainBlocked: litepay's "callback domains which appear
// dead or never return the *ok* response may be blocked", on the real stack
// with receive.block_dead_after at 2s: a forwarded payment's callbacks to a
// dead domain fail block after block, the domain is blocked, /api/receive
// refuses it (200, status error, saying why), `sluice receive domains`
// lists it, and after `sluice receive domains unblock` it is taken again.
func TestDeadCallbackDomainBlocked(t *testing.T) {
	dest := devnetAddress(t, "ltc")
	prices := deadPort(t)
	a := newAPIEnv(t, "SLUICE_SWEEPS_ENABLED=true", "SLUICE_FEE_ADDRESS_LTC="+devnetAddress(t, "ltc"),
		"SLUICE_RATES_SOURCES=coingecko=http://"+prices, "SLUICE_RECEIVE_BLOCK_DEAD_AFTER=2s", "SLUICE_WEBHOOKS_ALLOW_PRIVATE_TARGETS=loopback")
	a.startSub(t, nil, "devnet", "prices", "--listen", prices)
	a.srv = startServeArgs(t, a.env)
	deadCB := "http://localhost:" + strings.Split(deadPort(t), ":")[1] + "/cb?id=1" // nothing listens there
	receive := func(cb string) (string, map[string]any) {
		var in string
		var body map[string]any
		waitFor(t, "a receive answer (index synced)", 90*time.Second, func() bool {
			var code int
			code, body = a.call(t, "GET", "/api/receive?"+url.Values{"method": {"ltc"}, "address": {dest}, "callback": {cb}}.Encode(), a.key, nil)
			in, _ = body["input_address"].(string)
			return code == 200 && (in != "" || !strings.Contains(fmt.Sprint(body["message"]), "not synced"))
		})
		return in, body
	}
	in, body := receive(deadCB)
	if in == "" {
		t.Fatalf("receive with a callback on a domain not yet known dead: %v", body)
	}
	devnetPay(t, "LTC", in, "0.05")
	devnetMine(t, "ltc", 1)
	mined := time.Now()
	waitFor(t, "the dead domain blocked", 120*time.Second, func() bool {
		r := run(t, a.env, "receive", "domains")
		if strings.Contains(r.stdout, "localhost") && strings.Contains(r.stdout, "blocked") {
			return true
		}
		if time.Since(mined) > 2*time.Second { // a block: the callback is tried again
			devnetMine(t, "ltc", 1)
			mined = time.Now()
		}
		return false
	})
	if in, body := receive("http://localhost:9/other"); in != "" || body["status"] != "error" ||
		!strings.Contains(fmt.Sprint(body["message"]), "blocked") {
		t.Fatalf("receive with a callback on the blocked domain: %v", body)
	}
	if r := run(t, a.env, "receive", "domains", "unblock", "localhost"); r.code != 0 || !strings.Contains(r.stdout, "unblocked") {
		t.Fatalf("unblock: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if in, body := receive("http://localhost:9/other"); in == "" {
		t.Fatalf("receive after unblocking: %v", body)
	}
}

// TestExpiredReceiveAddressStillForwards: litepay's "normal addresses expire
// after 30 days of idle", with receive.expire_after at 3s: the idle address
// expires (GET /wallet shows it) and leaves the watch set, yet a payment to
// it afterwards is found by the reconciler's scan of expired addresses and
// forwarded to the destination: nothing is lost.
func TestExpiredReceiveAddressStillForwards(t *testing.T) {
	ltc := nodeFor(t, "ltc")
	dest := devnetAddress(t, "ltc")
	prices := deadPort(t)
	a := newAPIEnv(t, "SLUICE_SWEEPS_ENABLED=true", "SLUICE_FEE_ADDRESS_LTC="+devnetAddress(t, "ltc"),
		"SLUICE_RATES_SOURCES=coingecko=http://"+prices, "SLUICE_RECEIVE_EXPIRE_AFTER=3s", "SLUICE_RECEIVE_EXPIRED_SCAN=2s")
	a.startSub(t, nil, "devnet", "prices", "--listen", prices)
	a.srv = startServeArgs(t, a.env)
	var in string
	waitFor(t, "a receive address (index synced)", 90*time.Second, func() bool {
		code, body := a.call(t, "GET", "/api/receive?"+url.Values{"method": {"ltc"}, "address": {dest}, "callback_req": {"0"}}.Encode(), a.key, nil)
		in, _ = body["input_address"].(string)
		return code == 200 && in != ""
	})
	waitFor(t, "the idle address expired", 60*time.Second, func() bool {
		_, body := a.call(t, "GET", "/wallet/"+in, a.key, nil)
		return strings.Contains(mustJSON(body), `"expired":true`)
	})
	ws, err := watch.Open(context.Background(), a.redis, "ltc", watch.Config{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the expired address out of the watch set", 30*time.Second, func() bool {
		m, err := ws.Match(context.Background(), []string{in})
		return err == nil && len(m) == 0
	})
	devnetPay(t, "LTC", in, "0.05")
	devnetMine(t, "ltc", 1)
	waitFor(t, "the late payment forwarded", 90*time.Second, func() bool {
		s := a.sweeps(t)
		return len(s) == 1 && (s[0].state == "broadcast" || s[0].state == "confirmed")
	})
	s := a.sweeps(t)[0]
	want := mustBig(t, "5000000")
	want.Sub(want, mustBig(t, s.feeService))
	want.Sub(want, mustBig(t, s.feeNet))
	if got := paidTo(t, ltc, s.txid); got[dest] != want.String() {
		t.Errorf("forwarded %v, want %s to %s", got, want, dest)
	}
}

// fundGasTank sends 1 ETH to the gas tank of this test's seed (each test
// has a tank of its own), which pays USDT sweeps' gas.
func (a *apiEnv) fundGasTank(t *testing.T) {
	t.Helper()
	seed, err := keys.LoadSeed(envOf(a.env, "SLUICE_SEED_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	tank, err := ethsweep.GasTankAddress(seed, "dev")
	if err != nil {
		t.Fatal(err)
	}
	devnetPay(t, "ETH", tank, "1")
}
