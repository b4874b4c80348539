package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/payments/webhook"
)

// hookReceiver is a merchant's webhook endpoint on loopback: it records
// every request, checks its signature, and answers as told.
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	reqs   []hookReq
	unsig  []string
	answer func(r hookReq) (int, string) // default 200 *ok*
	hold   chan struct{}                 // when set, requests wait on it (a hung receiver)
}

type hookReq struct {
	Method, Path, Query, Event string
	Body                       []byte
	Header                     http.Header
}

// hookFlavours are what a path of the test receiver is registered for in
// sluice: /cb… are litepay callback URLs, the rest the merchant's iqpay
// endpoints (one --webhook-url: deposits and withdrawals).
func hookFlavours(path string) []string {
	if strings.HasPrefix(path, "/cb") {
		return []string{webhook.FlavourLitepay}
	}
	return []string{webhook.FlavourIqpay, webhook.FlavourWithdrawal}
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		secret := h.secret
		h.mu.Unlock()
		_, err := webhook.VerifyRequest(secret, webhook.Expect{Flavours: hookFlavours(r.URL.Path), URL: h.srv.URL + r.URL.Path, Tolerance: time.Minute}, r)
		body, _ := io.ReadAll(r.Body) // VerifyRequest put it back
		req := hookReq{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Event: r.Header.Get(webhook.HeaderEventID), Body: body, Header: r.Header.Clone()}
		h.mu.Lock()
		if err != nil {
			h.unsig = append(h.unsig, r.URL.String()+": "+err.Error())
		}
		h.reqs = append(h.reqs, req)
		answer, hold := h.answer, h.hold
		h.mu.Unlock()
		if hold != nil {
			<-hold
		}
		code, text := 200, "*ok*"
		if answer != nil {
			code, text = answer(req)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, text)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) set(f func(r hookReq) (int, string)) {
	h.mu.Lock()
	h.answer = f
	h.mu.Unlock()
}

// bodies are the decoded iqpay bodies received for txid, in order.
func (h *hookReceiver) bodies(txid string) []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]any
	for _, r := range h.reqs {
		var b map[string]any
		if json.Unmarshal(r.Body, &b) == nil && b["txid"] == txid {
			out = append(out, b)
		}
	}
	return out
}

// rawBody is the first raw iqpay body received for txid.
func (h *hookReceiver) rawBody(txid string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.reqs {
		if strings.Contains(string(r.Body), txid) {
			return string(r.Body)
		}
	}
	return ""
}

func (h *hookReceiver) callbacks(path string) []url.Values {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []url.Values
	for _, r := range h.reqs {
		if r.Path == path {
			q, _ := url.ParseQuery(r.Query)
			out = append(out, q)
		}
	}
	return out
}

// depositAnnounced waits for the status 1 webhook of tx and checks the
// iqpay deliveries of a deposit of amount (exact decimal) in currency to
// addr: created at 1 confirmation, confirmed at confs, every one signed
// and naming the deposit; it returns the first raw body.
func (h *hookReceiver) depositAnnounced(t *testing.T, tx, currency, addr, amount string, confs int) string {
	t.Helper()
	waitFor(t, currency+" status 1 webhook", 120*time.Second, func() bool {
		bs := h.bodies(tx)
		return len(bs) > 0 && bs[len(bs)-1]["status"] == 1.0
	})
	bs := h.bodies(tx)
	if got := statuses(bs); got[0] != "created/0/1" || got[len(got)-1] != fmt.Sprintf("confirmed/1/%d", confs) {
		t.Errorf("%s webhooks %v, want created/0/1 … confirmed/1/%d", currency, got, confs)
	}
	for i, b := range bs {
		if b["address"] != addr || b["currency"] != currency || b["txid"] != tx {
			t.Errorf("%s webhook %d: %v", currency, i, b)
		}
	}
	raw := h.rawBody(tx)
	if !strings.Contains(raw, `"amount":`+amount+`,`) {
		t.Errorf("the body lacks the exact amount %s: %s", amount, raw)
	}
	h.mu.Lock()
	if len(h.unsig) > 0 {
		t.Errorf("requests with bad signatures: %v", h.unsig)
	}
	h.mu.Unlock()
	return raw
}

// currencies is GET /currencies by currency code.
func (a *apiEnv) currencies(t *testing.T) map[string]map[string]any {
	t.Helper()
	code, body := a.call(t, "GET", "/currencies", a.key, nil)
	if code != 200 {
		t.Fatalf("GET /currencies: %d %v", code, body)
	}
	out := map[string]map[string]any{}
	for _, c := range body["data"].([]any) {
		c := c.(map[string]any)
		out[fmt.Sprint(c["currency"])] = c
	}
	return out
}

// statuses sums up the iqpay deliveries of txid: "kind/status/confirmations".
func statuses(bs []map[string]any) []string {
	var out []string
	for _, b := range bs {
		out = append(out, fmt.Sprintf("%v/%v/%v", b["kind"], b["status"], b["confirmations"]))
	}
	return out
}

// devnetPay pays with `sluice devnet pay` on the test stack and returns the txid.
func devnetPay(t *testing.T, currency, to, amount string) string {
	t.Helper()
	r := run(t, nil, "devnet", "pay", "--dir", testenv.Get(t, "SLUICE_STACK_DIR"), "--currency", currency, "--to", to, "--amount", amount)
	if r.code != 0 {
		t.Fatalf("devnet pay %s %s: %s %s", currency, amount, r.stdout, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

func devnetMine(t *testing.T, chain string, n int) {
	t.Helper()
	if r := run(t, nil, "devnet", "mine", "--dir", testenv.Get(t, "SLUICE_STACK_DIR"), "--chain", chain, "-n", strconv.Itoa(n)); r.code != 0 {
		t.Fatalf("devnet mine %s: %s", chain, r.stderr)
	}
}

// walletWhenSynced creates a wallet, waiting while the chain's index catches up (503).
func (a *apiEnv) walletWhenSynced(t *testing.T, currency, extID string) string {
	t.Helper()
	var addr string
	waitFor(t, currency+" wallet (index synced)", 180*time.Second, func() bool {
		code, body := a.call(t, "POST", "/wallet/create/"+currency, a.key, map[string]any{"extId": extID})
		if code != 200 {
			return false
		}
		addr = body["data"].(map[string]any)["publicKey"].(string)
		return true
	})
	return addr
}

// TestWebhooksEndToEnd: on the local stack, wallets for BTC, LTC, ETH and
// USDT made through the API and paid with `sluice devnet pay` become signed
// iqpay webhooks at a real receiver: status 0, the confirmation updates,
// status 1 at the required depth, with exact amounts. The same through the
// litepay receive API: GET callbacks resent per block until *ok*, then never.
func TestWebhooksEndToEnd(t *testing.T) {
	h := newHookReceiver(t)
	prices := deadPort(t) // the stack's price server, in CoinGecko's format, on a port of this test's
	// sweeps on: litepay calls back once the sweeper forwarded the payment
	a := newAPIEnvWith(t, h.srv.URL+"/iqpay", []string{"--convert", "USD"}, "SLUICE_RATES_SOURCES=coingecko=http://"+prices,
		"SLUICE_SWEEPS_ENABLED=true", "SLUICE_FEE_ADDRESS_LTC="+devnetAddress(t, "ltc"))
	a.startSub(t, nil, "devnet", "prices", "--listen", prices)
	h.mu.Lock()
	h.secret = a.secret
	h.mu.Unlock()
	a.srv = startServeArgs(t, a.env)

	pays := []struct{ currency, chain, amount, exact string }{
		{"BTC", "btc", "0.12345678", "0.12345678"}, {"LTC", "ltc", "0.5", "0.5"},
		{"ETH", "eth", "0.010000000000000001", "0.010000000000000001"}, {"USDT", "eth", "25.5", "25.5"},
	}
	need := map[string]int{"BTC": 2, "LTC": 6, "ETH": 12, "USDT": 12}
	txids := map[string]string{}
	addrs := map[string]string{}
	for _, p := range pays {
		addrs[p.currency] = a.walletWhenSynced(t, p.currency, "cust-"+p.currency)
		txids[p.currency] = devnetPay(t, p.currency, addrs[p.currency], p.amount)
	}
	devnetMine(t, "btc", 2)
	devnetMine(t, "ltc", 6)
	devnetMine(t, "eth", 12)
	for _, p := range pays {
		tx := txids[p.currency]
		waitFor(t, p.currency+" status 1 webhook", 120*time.Second, func() bool {
			bs := h.bodies(tx)
			return len(bs) > 0 && bs[len(bs)-1]["status"] == 1.0
		})
		bs := h.bodies(tx)
		got := statuses(bs)
		if got[0] != "created/0/1" || got[len(got)-1] != fmt.Sprintf("confirmed/1/%d", need[p.currency]) {
			t.Errorf("%s webhooks %v", p.currency, got)
		}
		for i, b := range bs {
			if b["address"] != addrs[p.currency] || b["wallet_ext_id"] != "cust-"+p.currency || b["currency"] != p.currency ||
				b["fromAddress"] == "" || b["txid"] != tx {
				t.Errorf("%s webhook %d: %v", p.currency, i, b)
			}
		}
		// the amount is a JSON number printed exactly, never through a float
		if raw := h.rawBody(tx); !strings.Contains(raw, `"amount":`+p.exact+`,`) {
			t.Errorf("%s body lacks the exact amount %s: %s", p.currency, p.exact, raw)
		}
		// USD conversion at the devnet price server's rates (LTC 72.35, USDT 0.9998), fixed once per deposit
		if conv, ok := map[string]string{"LTC": `"convert_currency":"USD","convert_price":72.35,"converted_amount":36.18`,
			"USDT": `"convert_currency":"USD","convert_price":0.9998,"converted_amount":25.49`}[p.currency]; ok {
			if raw := h.rawBody(tx); !strings.Contains(raw, conv) {
				t.Errorf("%s webhook conversion: want %s in %s", p.currency, conv, raw)
			}
		}
	}
	h.mu.Lock()
	if len(h.unsig) > 0 {
		t.Errorf("requests with bad signatures: %v", h.unsig)
	}
	h.mu.Unlock()

	// litepay: the callback keeps its parameters, repeats per block until *ok*
	var dest string
	if err := nodeFor(t, "ltc").rpc.Call(t.Context(), "getnewaddress", &dest, "", "bech32"); err != nil {
		t.Fatal(err)
	}
	// issue 14: a callback URL that is the merchant's iqpay endpoint dressed as a confirmed deposit of one of its wallets is refused
	forged := h.srv.URL + "/iqpay?" + url.Values{"address": {addrs["LTC"]}, "wallet_ext_id": {"cust-LTC"}, "status": {"1"},
		"kind": {"confirmed"}, "amount": {"1000"}, "txid": {"forged"}}.Encode()
	code, body := a.call(t, "GET", "/api/receive?"+url.Values{"method": {"ltc"}, "address": {dest}, "callback": {forged}}.Encode(), a.key, nil)
	// litepay's error shape, whatever status code litepay errors get
	if msg, _ := body["message"].(string); code == 200 && body["input_address"] != nil || body["status"] != "error" ||
		!strings.Contains(msg, "callback") || !strings.Contains(msg, `"address"`) {
		t.Fatalf("receive with a callback URL that reads as an iqpay webhook: %d %v", code, body)
	}
	for _, shadow := range []string{"/cb?secret=abc&Value=100000000", "/cb?event_id=1", "/cb?confirmations=100"} {
		code, body := a.call(t, "GET", "/api/receive?"+url.Values{"method": {"ltc"}, "address": {dest}, "callback": {h.srv.URL + shadow}}.Encode(), a.key, nil)
		if body["status"] != "error" || body["input_address"] != nil {
			t.Errorf("receive with callback %s: %d %v", shadow, code, body)
		}
	}
	nacks := 0
	h.set(func(r hookReq) (int, string) {
		if r.Path == "/cb" && nacks < 2 {
			nacks++
			return 200, "not yet"
		}
		return 200, "*ok*"
	})
	q := url.Values{"method": {"ltc"}, "address": {dest}, "callback": {h.srv.URL + "/cb?id=7&secret=abc"}}
	code, body = a.call(t, "GET", "/api/receive?"+q.Encode(), a.key, nil)
	if code != 200 {
		t.Fatalf("receive: %d %v", code, body)
	}
	in := body["input_address"].(string)
	ltx := devnetPay(t, "LTC", in, "0.3")
	devnetMine(t, "ltc", 1)
	mined := time.Now()
	// forwarded at one confirmation, then one callback per block until *ok*
	waitFor(t, "the acknowledged callback", 90*time.Second, func() bool {
		if len(h.callbacks("/cb")) >= 3 {
			return true
		}
		if time.Since(mined) > 2*time.Second {
			devnetMine(t, "ltc", 1)
			mined = time.Now()
		}
		return false
	})
	devnetMine(t, "ltc", 2)
	time.Sleep(3 * time.Second)
	cbs := h.callbacks("/cb")
	if len(cbs) != 3 {
		t.Fatalf("litepay callbacks: %d, want 2 unacknowledged + 1 *ok* and none after: %v", len(cbs), cbs)
	}
	prev := 0
	for _, c := range cbs {
		n, _ := strconv.Atoi(c.Get("confirmations"))
		if c.Get("id") != "7" || c.Get("secret") != "abc" || c.Get("value") != "30000000" || c.Get("input_address") != in ||
			c.Get("transaction_hash") != ltx || c.Get("destination_address") != dest || c.Get("coin") != "LTC" || n < prev || n < 1 {
			t.Errorf("callback %v", c)
		}
		prev = n
	}
	h.mu.Lock()
	if len(h.unsig) > 0 {
		t.Errorf("requests with bad signatures: %v", h.unsig)
	}
	h.mu.Unlock()

	// a legit callback, as the receiver captured it: `sluice webhooks verify` takes it as litepay, never as iqpay
	var got hookReq
	h.mu.Lock()
	for _, r := range h.reqs {
		if r.Path == "/cb" {
			got = r
		}
	}
	h.mu.Unlock()
	dir := t.TempDir()
	secretFile, headersFile := filepath.Join(dir, "secret"), filepath.Join(dir, "headers")
	var lines strings.Builder
	lines.WriteString("GET /cb?" + got.Query + " HTTP/1.1\n")
	for name, vs := range got.Header {
		for _, v := range vs {
			lines.WriteString(name + ": " + v + "\n")
		}
	}
	if err := os.WriteFile(secretFile, []byte(a.secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(headersFile, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	received := h.srv.URL + "/cb?" + got.Query
	verify := func(flavour string, extra ...string) result {
		return run(t, nil, append([]string{"webhooks", "verify", "--secret-file", secretFile, "--flavour", flavour, "--method", "GET",
			"--url", received, "--headers-file", headersFile, "--tolerance", "1h"}, extra...)...)
	}
	for _, flavour := range []string{"iqpay", "iqpay,withdrawal", "withdrawal"} {
		if r := verify(flavour); r.code != 1 || !strings.Contains(r.stderr, "NOT authentic") || !strings.Contains(r.stderr, "signature does not match") {
			t.Errorf("a litepay callback checked as %s: exit %d\n%s%s", flavour, r.code, r.stdout, r.stderr)
		}
	}
	r := verify("litepay")
	if want := "authentic: flavour litepay, kind payment, event " + got.Event + ","; r.code != 0 || !strings.HasPrefix(r.stdout, want) {
		t.Errorf("the litepay callback checked as litepay: exit %d, want %q\n%s%s", r.code, want, r.stdout, r.stderr)
	}
	// at the iqpay endpoint's URL, headers dressed as an iqpay deposit: still not authentic
	if r := verify("iqpay", "--url", h.srv.URL+"/iqpay?"+got.Query, "--header", "X-Sluice-Flavour: iqpay", "--header", "X-Sluice-Event-Kind: confirmed"); r.code != 1 {
		t.Errorf("a dressed-up callback checked as iqpay: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	noCrash(t, r)
}

// TestWebhooksSurviveDownReceiverAndKill9: a receiver that is down gets
// every event, in order, once it is back; sluice killed with -9 while a
// delivery is in flight delivers it again after a restart (same event id):
// nothing is lost.
func TestWebhooksSurviveDownReceiverAndKill9(t *testing.T) {
	h := newHookReceiver(t)
	a := newAPIEnvHooks(t, h.srv.URL+"/iqpay", "SLUICE_WEBHOOKS_TIMEOUT=2s")
	h.mu.Lock()
	h.secret = a.secret
	h.mu.Unlock()
	a.srv = startServeArgs(t, a.env)
	addr := a.walletWhenSynced(t, "LTC", "down-1")

	h.set(func(hookReq) (int, string) { return 503, "down for maintenance" })
	tx := devnetPay(t, "LTC", addr, "0.25")
	devnetMine(t, "ltc", 6)
	waitFor(t, "the deposit confirmed in the ledger", 60*time.Second, func() bool {
		code, body := a.call(t, "GET", "/deposits?currency=LTC", a.key, nil)
		return code == 200 && strings.Contains(mustJSON(body), `"status":1`)
	})
	waitFor(t, "a first try at the down receiver", 30*time.Second, func() bool { return len(h.bodies(tx)) > 0 })
	time.Sleep(2 * time.Second)
	got := statuses(h.bodies(tx))
	for _, s := range got {
		if s != "created/0/1" {
			t.Fatalf("while down, only the first event may be tried (in order): %v", got)
		}
	}
	h.set(nil) // back up
	want := "created/0/1 confirmations/0/2 confirmations/0/3 confirmations/0/4 confirmations/0/5 confirmations/0/6 confirmed/1/6"
	waitFor(t, "every event after the receiver came back", 90*time.Second, func() bool {
		got := statuses(h.bodies(tx))
		return len(got) > 0 && got[len(got)-1] == "confirmed/1/6"
	})
	var acked []string
	for _, s := range statuses(h.bodies(tx)) {
		if len(acked) == 0 || acked[len(acked)-1] != s { // retries of the first event repeat it
			acked = append(acked, s)
		}
	}
	if strings.Join(acked, " ") != want {
		t.Fatalf("events after the outage:\n got %v\nwant %s", acked, want)
	}

	// the delivery log shows the outage; a redelivery sends the event again
	code, list := a.call(t, "GET", "/webhooks/deliveries?flavour=iqpay&limit=50", a.key, nil)
	if code != 200 {
		t.Fatalf("deliveries: %d %v", code, list)
	}
	var redo float64
	for _, d := range list["data"].([]any) {
		d := d.(map[string]any)
		if d["kind"] == "created" && d["state"] == "delivered" && strings.Contains(mustJSON(d["log"]), `"status_code":503`) {
			redo = d["id"].(float64)
		}
	}
	if redo == 0 {
		t.Fatalf("no delivered 'created' delivery with a 503 in its log: %v", list)
	}
	n := len(h.bodies(tx))
	if code, body := a.call(t, "POST", fmt.Sprintf("/webhooks/deliveries/%.0f/redeliver", redo), a.key, nil); code != 200 {
		t.Fatalf("redeliver: %d %v", code, body)
	}
	waitFor(t, "the redelivered event", 30*time.Second, func() bool { return len(h.bodies(tx)) > n })
	if code, _ := a.call(t, "POST", "/webhooks/deliveries/999999/redeliver", a.key, nil); code != 404 {
		t.Errorf("redeliver of an unknown delivery: %d", code)
	}
	if code, _ := a.call(t, "GET", "/webhooks/deliveries?state=bogus", a.key, nil); code != 400 {
		t.Errorf("bad delivery filter: %d", code)
	}

	// kill -9 with a request in flight: the receiver hangs on the next event
	hold := make(chan struct{})
	h.mu.Lock()
	h.hold = hold
	before := len(h.reqs)
	h.mu.Unlock()
	addr2 := a.walletWhenSynced(t, "LTC", "kill-1")
	tx2 := devnetPay(t, "LTC", addr2, "0.125")
	devnetMine(t, "ltc", 1)
	waitFor(t, "a delivery in flight", 60*time.Second, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.reqs) > before
	})
	if err := a.srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.srv.done
	h.mu.Lock()
	h.hold = nil
	h.mu.Unlock()
	close(hold)
	first := h.bodies(tx2)
	a.srv = startServeArgs(t, a.env)
	// the lease of the killed worker's claim runs out (2×timeout+30s), then it is sent again
	waitFor(t, "the interrupted delivery sent again", 90*time.Second, func() bool { return len(h.bodies(tx2)) > len(first) })
	h.mu.Lock()
	events := map[string]int{}
	for _, r := range h.reqs[before:] {
		if strings.Contains(string(r.Body), tx2) {
			events[r.Event]++
		}
	}
	h.mu.Unlock()
	repeated := false
	for _, n := range events {
		repeated = repeated || n >= 2
	}
	if !repeated {
		t.Fatalf("no event of %s was delivered again with the same event id after kill -9: %v", tx2, events)
	}
}

// TestWebhooksVerifyHelp: `sluice webhooks verify --help` explains itself
// with an example that runs as printed: the documented litepay callback is
// authentic as litepay, and not as iqpay.
func TestWebhooksVerifyHelp(t *testing.T) {
	r := run(t, nil, "webhooks", "verify", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, "--flavour") || !strings.Contains(r.stdout, "X-Sluice-Flavour") {
		t.Fatalf("webhooks verify --help: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	_, example, _ := strings.Cut(r.stdout, "Examples:\n")
	example, _, ok := strings.Cut(example, "  # →")
	if !ok || !strings.Contains(example, "sluice webhooks verify") {
		t.Fatalf("no runnable example in:\n%s", r.stdout)
	}
	script := strings.ReplaceAll(example, "sluice webhooks verify", strconv.Quote(bin)+" webhooks verify")
	for flavour, want := range map[string]int{"litepay": 0, "iqpay": 1} {
		cmd := exec.Command("bash", "-c", strings.Replace(script, "--flavour litepay", "--flavour "+flavour, 1))
		cmd.Dir = t.TempDir()
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want || (want == 0 && !strings.HasPrefix(string(out), "authentic: flavour litepay, kind payment, event 41,")) ||
			(want == 1 && !strings.Contains(string(out), "NOT authentic")) {
			t.Errorf("the help's example as %s: exit %d, want %d\n%s", flavour, code, want, out)
		}
	}
}
