package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/sluicepay/sluice/internal/testenv"
)

// reqWant is what the spec should say of a request: valid, or refused
// (missing key or parameter, a value outside the documented range...).
// A request that breaks only a rule the spec cannot express (an unknown
// currency, an amount over the balance) is valid by the spec and refused
// by the server.
type reqWant int

const (
	reqValid reqWant = iota
	reqInvalid
)

const anyCode = -1

// specCase is one real request to the running server and the status it
// must answer.
type specCase struct {
	method, path, key string
	body              any // JSON-encoded, or sent as is when a string
	code              int // anyCode: whatever it answers (still checked against the spec)
	req               reqWant
	base              string // another server's URL; "" for the test's
}

// specCheck validates real requests and responses against the spec and
// collects every mismatch, so one run lists them all.
type specCheck struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options
	base   string

	mu       sync.Mutex
	problems []string
	checked  int
	seen     map[string]map[int]bool // "GET /wallet/{address}" -> status codes answered
}

func newSpecCheck(t *testing.T, raw []byte) *specCheck {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("api/openapi.yaml does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("api/openapi.yaml is not valid OpenAPI: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	v := &specCheck{doc: doc, router: router, seen: map[string]map[int]bool{}, opts: &openapi3filter.Options{
		IncludeResponseStatus: true, // a status the operation does not list is a mismatch
		MultiError:            true,
		SkipSettingDefaults:   true,
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			if in.SecurityScheme.In == "header" && in.RequestValidationInput.Request.Header.Get(in.SecurityScheme.Name) == "" {
				return fmt.Errorf("no API key in the %s header", in.SecurityScheme.Name)
			}
			return nil
		},
	}}
	// the reason and where, without kin-openapi's dump of the whole schema
	v.opts.WithCustomSchemaErrorFunc(func(err *openapi3.SchemaError) string { return err.Reason })
	return v
}

func (v *specCheck) fail(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

func (c specCase) name() string {
	s := c.method + " " + c.path
	if b, ok := c.body.(string); ok {
		s += " " + b
	} else if c.body != nil {
		s += " " + mustJSON(c.body)
	}
	return s
}

func (c specCase) request(base string) *http.Request {
	var body io.Reader
	if c.body != nil {
		b, _ := json.Marshal(c.body)
		if s, ok := c.body.(string); ok {
			b = []byte(s)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	if err != nil {
		panic(err)
	}
	if c.key != "" {
		req.Header.Set("Authorization", c.key)
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// do sends c, checks its status, validates the request and the response
// against the spec, and returns the decoded JSON body (nil if not JSON).
func (v *specCheck) do(t *testing.T, c specCase) map[string]any {
	t.Helper()
	base := c.base
	if base == "" {
		base = v.base
	}
	resp, err := http.DefaultClient.Do(c.request(base))
	if err != nil {
		t.Fatalf("%s: %v", c.name(), err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: %v", c.name(), err)
	}
	if c.code != anyCode && resp.StatusCode != c.code {
		v.fail("%s: answered %d, the test wants %d: %s", c.name(), resp.StatusCode, c.code, raw)
	}

	req := c.request(base)
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		v.fail("%s: no operation in the spec: %v", c.name(), err)
		return specJSON(raw)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: v.opts}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case c.req == reqValid && reqErr != nil:
		v.fail("%s: the spec refuses this request (answered %d): %v", c.name(), resp.StatusCode, reqErr)
	case c.req == reqInvalid && reqErr == nil:
		v.fail("%s: the spec accepts this request, the server answered %d: %s", c.name(), resp.StatusCode, raw)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: v.opts}
	if err := openapi3filter.ValidateResponse(context.Background(), out.SetBodyBytes(raw)); err != nil {
		v.fail("%s: response %d %s\n    does not match the spec: %v", c.name(), resp.StatusCode, specExcerpt(raw), err)
	}
	v.mu.Lock()
	op := route.Method + " " + route.Path
	if v.seen[op] == nil {
		v.seen[op] = map[int]bool{}
	}
	v.seen[op][resp.StatusCode] = true
	v.checked++
	v.mu.Unlock()
	return specJSON(raw)
}

// unrouted checks the answer to a path or method no operation has: the
// spec's Error schema.
func (v *specCheck) unrouted(t *testing.T, method, path string, code int) {
	t.Helper()
	c := specCase{method: method, path: path}
	resp, err := http.DefaultClient.Do(c.request(v.base))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, _, err := v.router.FindRoute(c.request(v.base)); err == nil {
		v.fail("%s %s: the spec has an operation for it", method, path)
	}
	var body any
	if err := json.Unmarshal(raw, &body); err != nil || resp.StatusCode != code {
		v.fail("%s %s: %d %s, want %d with JSON", method, path, resp.StatusCode, raw, code)
		return
	}
	if err := v.doc.Components.Schemas["Error"].Value.VisitJSON(body, openapi3.EnableJSONSchema2020()); err != nil {
		v.fail("%s %s: %s is not the spec's Error: %v", method, path, raw, err)
	}
}

// coverage: every operation answered a success, every operation with
// documented 4xx answered one, and every documented status (but 500) was
// seen somewhere.
func (v *specCheck) coverage() {
	documented := map[int]bool{}
	var ops []string
	for path, item := range v.doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops = append(ops, method+" "+path)
			seen := v.seen[method+" "+path]
			var ok2, bad4, want4 bool
			for code := range op.Responses.Map() {
				var n int
				fmt.Sscan(code, &n)
				documented[n] = true
				want4 = want4 || (n >= 400 && n < 500)
			}
			for code := range seen {
				ok2 = ok2 || (code >= 200 && code < 300)
				bad4 = bad4 || (code >= 400 && code < 500)
			}
			if !ok2 {
				v.fail("%s %s: never answered a success in this test", method, path)
			}
			if want4 && !bad4 {
				v.fail("%s %s: never answered an error in this test", method, path)
			}
		}
	}
	all := map[int]bool{}
	for _, codes := range v.seen {
		for c := range codes {
			all[c] = true
		}
	}
	for c := range documented {
		if c != 500 && !all[c] {
			v.fail("status %d is documented but no request of this test got it", c)
		}
	}
	if len(ops) < 15 {
		v.fail("only %d operations in the spec", len(ops))
	}
}

func specJSON(raw []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

func specExcerpt(raw []byte) string {
	if len(raw) > 600 {
		return string(raw[:600]) + "…"
	}
	return string(raw)
}

// specHooks is a merchant's webhook and litepay callback endpoint that
// validates every request sluice sends it against the spec's webhooks.
type specHooks struct {
	srv  *httptest.Server
	spec *specCheck
	mu   sync.Mutex
	seen map[string]int // "iqpayDeposit POST" -> requests
	kind map[string]int // iqpay "kind" -> requests
}

func newSpecHooks(t *testing.T, v *specCheck) *specHooks {
	h := &specHooks{spec: v, seen: map[string]int{}, kind: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		name := "iqpayDeposit"
		if r.URL.Path == "/cb" {
			name = "litepayCallback"
		}
		item := v.doc.Webhooks[name]
		var op *openapi3.Operation
		if item != nil {
			op = item.GetOperation(r.Method)
		}
		if op == nil {
			v.fail("webhook %s %s: the spec has no %s %s", r.Method, r.URL, name, r.Method)
		} else {
			r.Body = io.NopCloser(bytes.NewReader(body))
			route := &routers.Route{Spec: v.doc, Path: name, PathItem: item, Method: r.Method, Operation: op}
			in := &openapi3filter.RequestValidationInput{Request: r, PathParams: map[string]string{}, Route: route, Options: v.opts}
			if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
				v.fail("webhook %s %s %s\n    does not match the spec's %s: %v", r.Method, r.URL, specExcerpt(body), name, err)
			}
		}
		kind := r.URL.Query().Get("kind")
		if m := specJSON(body); m != nil {
			kind, _ = m["kind"].(string)
		}
		h.mu.Lock()
		h.seen[name+" "+r.Method]++
		h.kind[kind]++
		h.mu.Unlock()
		_, _ = io.WriteString(w, "*ok*")
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *specHooks) count(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[key]
}

// regtestBTCAddress is a valid Bitcoin regtest address nobody pays.
func regtestBTCAddress(t *testing.T) string {
	h := make([]byte, 20)
	if _, err := rand.Read(h); err != nil {
		t.Fatal(err)
	}
	a, err := btcutil.NewAddressWitnessPubKeyHash(h, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	return a.EncodeAddress()
}

// TestOpenAPI: api/openapi.yaml describes the running server. `sluice
// serve` on a fresh ledger with an indexed LTC chain, real deposits (a
// wallet and a litepay receive address paid and confirmed), webhooks sent
// with GET, PUT and POST: every route is called with successes and
// errors, every request and response is validated against the spec
// (kin-openapi's openapi3filter), requests the server refuses for a
// documented reason must be refused by the spec too, every status the
// spec lists (but 500) must come up, and every webhook request sluice
// sends must match the spec's webhooks. The test lists every mismatch.
func TestOpenAPI(t *testing.T) {
	file, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "api", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	v := newSpecCheck(t, file)
	hooks := newSpecHooks(t, v)
	a := newAPIEnvWith(t, hooks.srv.URL+"/iqpay", []string{
		"--webhook", "created=GET:" + hooks.srv.URL + "/created?token=abc",
		"--webhook", "confirmations=PUT:" + hooks.srv.URL + "/confirmations",
	}, "SLUICE_API_RECEIVE_MERCHANT=1")
	ltcNode := nodeFor(t, "ltc")
	a.start(t, nil, "--chain", "ltc")
	top := ltcNode.height(t)
	waitFor(t, "ltc catch-up", 60*time.Second, func() bool { return a.checkpoint(t, "ltc") >= top })
	a.srv = startServe(t, a.env)
	a.startSub(t, nil, "consume", "--chain", "ltc")
	a.startSub(t, nil, "webhooks")
	// litepay calls back once a payment is forwarded: the sweeper forwards it
	prices := deadPort(t) // the 1 USD minimum needs a fresh LTC price
	a.startSub(t, nil, "devnet", "prices", "--listen", prices)
	a.startSub(t, []string{"SLUICE_FEE_ADDRESS_LTC=" + devnetAddress(t, "ltc"), "SLUICE_RATES_SOURCES=coingecko=http://" + prices},
		"sweep", "--chain", "ltc")
	v.base = a.srv.url
	if a.id != 1 {
		t.Fatalf("the merchant is %d; SLUICE_API_RECEIVE_MERCHANT=1 assumes 1", a.id)
	}
	do := func(c specCase) map[string]any { t.Helper(); return v.do(t, c) }

	// the spec as served is the file
	resp, err := http.Get(a.srv.url + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(served, file) {
		t.Errorf("GET /openapi.yaml is not api/openapi.yaml (%d bytes, file %d)", len(served), len(file))
	}
	do(specCase{method: "GET", path: "/openapi.yaml", code: 200})
	do(specCase{method: "GET", path: "/healthz", code: 200})
	do(specCase{method: "GET", path: "/readyz", code: 200})
	do(specCase{method: "GET", path: "/metrics", code: 200})
	v.unrouted(t, "GET", "/nope", 404)
	v.unrouted(t, "DELETE", "/currencies", 405)

	// keys of every kind
	key := a.key
	reader := a.newKey(t, "--scope", "read")
	walletOnly := a.newKey(t, "--scope", "wallet")
	wkey := a.newKey(t, "--scope", "withdraw,read", "--allow-ip", "127.0.0.0/8")
	unbound := a.newKey(t, "--scope", "withdraw")
	elsewhere := a.newKey(t, "--allow-ip", "10.0.0.0/8")
	short := a.newKey(t, "--expires", "1s")
	expiresAt := time.Now().Add(1100 * time.Millisecond)
	limited := a.newKey(t, "--rate-limit", "2")
	revoked := a.newKey(t)
	if r := run(t, a.env, "merchant", "key", "revoke", "--merchant", "1", strings.Split(revoked, "_")[1]); r.code != 0 {
		t.Fatalf("revoke: %s", r.stderr)
	}

	// currencies
	do(specCase{method: "GET", path: "/currencies", key: key, code: 200})
	do(specCase{method: "GET", path: "/currencies", code: 401, req: reqInvalid})
	do(specCase{method: "GET", path: "/currencies", key: "sluice_000000000000_nope", code: 401})
	do(specCase{method: "GET", path: "/currencies", key: revoked, code: 401})
	do(specCase{method: "GET", path: "/currencies", key: elsewhere, code: 401})

	// wallets
	body := do(specCase{method: "POST", path: "/wallet/create/LTC", key: key, body: map[string]any{"extId": "customer-1"}, code: 200})
	data, _ := body["data"].(map[string]any)
	addr, _ := data["publicKey"].(string)
	if addr == "" {
		t.Fatalf("no wallet: %v", body)
	}
	for _, c := range []specCase{
		{method: "POST", path: "/wallet/create/ltc", key: key, body: `{"extId": 90233}`, code: 200},
		{method: "POST", path: "/wallet/create/DOGE", key: key, body: map[string]any{"extId": "x"}, code: 400},
		{method: "POST", path: "/wallet/create/LTC", key: key, body: map[string]any{}, code: 400, req: reqInvalid},
		{method: "POST", path: "/wallet/create/LTC", key: key, body: `{"extId": `, code: 400, req: reqInvalid},
		{method: "POST", path: "/wallet/create/LTC", key: key, body: map[string]any{"extId": true}, code: 400, req: reqInvalid},
		{method: "POST", path: "/wallet/create/LTC", key: key, body: map[string]any{"extId": strings.Repeat("x", 129)}, code: 400, req: reqInvalid},
		{method: "POST", path: "/wallet/create/BTC", key: key, body: map[string]any{"extId": "x"}, code: 503}, // btc is not indexed here
		{method: "POST", path: "/wallet/create/LTC", key: reader, body: map[string]any{"extId": "x"}, code: 402},
		{method: "POST", path: "/wallet/create/LTC", body: map[string]any{"extId": "x"}, code: 401, req: reqInvalid},
	} {
		do(c)
	}

	// real money: a wallet and a litepay receive address paid and confirmed
	var dest string
	if err := ltcNode.rpc.Call(context.Background(), "getnewaddress", &dest, "", "bech32"); err != nil {
		t.Fatal(err)
	}
	cb := hooks.srv.URL + "/cb?id=7&secret=abc"
	recv := do(specCase{method: "GET", path: "/api/receive?" + url.Values{"method": {"ltc"}, "address": {dest}, "callback": {cb}}.Encode(),
		key: key, code: 200})
	in, _ := recv["input_address"].(string)
	if in == "" {
		t.Fatalf("receive: %v", recv)
	}
	devnetPay(t, "LTC", addr, "0.5")
	devnetPay(t, "LTC", in, "0.3")
	devnetMine(t, "ltc", 6)
	waitFor(t, "both deposits confirmed", 90*time.Second, func() bool {
		_, b := a.call(t, "GET", "/deposits?status=1", key, nil)
		d, _ := b["data"].([]any)
		return len(d) == 2
	})
	waitFor(t, "the webhooks of confirmed deposits and a litepay callback", 90*time.Second, func() bool {
		hooks.mu.Lock()
		defer hooks.mu.Unlock()
		// the wallet's confirmed webhook (a receive address fires none) and the forward's callback
		return hooks.kind["confirmed"] >= 1 && hooks.seen["litepayCallback GET"] >= 1
	})

	// deposits and the wallet with them
	page := do(specCase{method: "GET", path: "/deposits?limit=1", key: key, code: 200})
	next, _ := page["next_cursor"].(string)
	if next == "" {
		t.Errorf("a page of 1 of 2 deposits has no next_cursor: %v", page)
	}
	do(specCase{method: "GET", path: "/deposits?limit=1&cursor=" + next, key: key, code: 200})
	do(specCase{method: "GET", path: "/deposits?" + url.Values{"currency": {"ltc"}, "status": {"1"}, "extId": {"customer-1"}, "address": {addr}}.Encode(),
		key: key, code: 200})
	for _, c := range []specCase{
		{method: "GET", path: "/deposits", key: reader, code: 200},
		{method: "GET", path: "/deposits?cursor=abc", key: key, code: 400, req: reqInvalid},
		{method: "GET", path: "/deposits?limit=100000", key: key, code: 400, req: reqInvalid},
		{method: "GET", path: "/deposits?limit=0", key: key, code: 400, req: reqInvalid},
		{method: "GET", path: "/deposits?status=7", key: key, code: 400, req: reqInvalid},
		{method: "GET", path: "/deposits?currency=DOGE", key: key, code: 400},
		{method: "GET", path: "/deposits", key: walletOnly, code: 402},
		{method: "GET", path: "/deposits", code: 401, req: reqInvalid},
	} {
		do(c)
	}
	w := do(specCase{method: "GET", path: "/wallet/" + addr, key: key, code: 200})
	if !strings.Contains(mustJSON(w), `"block_height":`) || strings.Contains(mustJSON(w), `"deposits":[]`) {
		t.Errorf("the paid wallet shows no deposit: %v", w)
	}
	do(specCase{method: "GET", path: "/wallet/" + strings.ToUpper(addr), key: reader, code: 200})
	do(specCase{method: "GET", path: "/wallet/rltc1qnotmine", key: key, code: 404})
	do(specCase{method: "GET", path: "/wallet/" + addr, key: walletOnly, code: 402})

	// the webhook delivery log and redelivery
	list := do(specCase{method: "GET", path: "/webhooks/deliveries", key: key, code: 200})
	ds, _ := list["data"].([]any)
	if len(ds) < 2 {
		t.Fatalf("delivery log: %v", list)
	}
	id := fmt.Sprint(int64(ds[len(ds)-1].(map[string]any)["id"].(float64)))
	depID := fmt.Sprint(int64(ds[0].(map[string]any)["deposit_id"].(float64)))
	page = do(specCase{method: "GET", path: "/webhooks/deliveries?limit=1", key: key, code: 200})
	next, _ = page["next_cursor"].(string)
	for _, c := range []specCase{
		{method: "GET", path: "/webhooks/deliveries?limit=1&cursor=" + next, key: key, code: 200},
		{method: "GET", path: "/webhooks/deliveries?state=delivered&flavour=litepay", key: reader, code: 200},
		{method: "GET", path: "/webhooks/deliveries?flavour=iqpay&deposit_id=" + depID, key: key, code: 200},
		{method: "GET", path: "/webhooks/deliveries?event_id=999999", key: key, code: 200},
		{method: "GET", path: "/webhooks/deliveries?state=bogus", key: key, code: 400, req: reqInvalid},
		{method: "GET", path: "/webhooks/deliveries?flavour=stripe", key: key, code: 400, req: reqInvalid},
		{method: "GET", path: "/webhooks/deliveries?deposit_id=0", key: key, code: 400, req: reqInvalid},
		{method: "GET", path: "/webhooks/deliveries?limit=201", key: key, code: 400, req: reqInvalid},
		{method: "GET", path: "/webhooks/deliveries?limit=abc", key: key, code: 400, req: reqInvalid},
		{method: "GET", path: "/webhooks/deliveries?cursor=x", key: key, code: 400, req: reqInvalid},
		{method: "GET", path: "/webhooks/deliveries", key: walletOnly, code: 402},
		{method: "POST", path: "/webhooks/deliveries/" + id + "/redeliver", key: key, code: 200},
		{method: "POST", path: "/webhooks/deliveries/999999/redeliver", key: key, code: 404},
		{method: "POST", path: "/webhooks/deliveries/abc/redeliver", key: key, code: 400, req: reqInvalid},
		{method: "POST", path: "/webhooks/deliveries/" + id + "/redeliver", key: reader, code: 402},
		{method: "POST", path: "/webhooks/deliveries/" + id + "/redeliver", code: 401, req: reqInvalid},
	} {
		do(c)
	}

	// the explorer, over the ltc index this test built (eth answers from an empty one)
	_, dep := a.call(t, "GET", "/deposits?limit=1", key, nil)
	deps, _ := dep["data"].([]any)
	if len(deps) == 0 {
		t.Fatalf("no deposit: %v", dep)
	}
	txid, _ := deps[0].(map[string]any)["txid"].(string)
	ethAddr := "0x" + strings.Repeat("ab", 20)
	for _, c := range []specCase{
		{method: "GET", path: "/v1/ltc/block/0", code: 200},
		{method: "GET", path: "/v1/ltc/block/" + strings.Repeat("0", 64), code: 404},
		{method: "GET", path: "/v1/ltc/block/nothex", code: 400},
		{method: "GET", path: "/v1/ltc/tx/" + txid, code: 200},
		{method: "GET", path: "/v1/ltc/tx/nothex", code: 400},
		{method: "GET", path: "/v1/ltc/address/" + addr + "/txs?limit=1", code: 200},
		{method: "GET", path: "/v1/ltc/address/" + addr + "/txs?cursor=x", code: 400},
		{method: "GET", path: "/v1/ltc/address/" + addr + "/txs?limit=0", code: 400, req: reqInvalid},
		{method: "GET", path: "/v1/ltc/address/" + addr + "/balance", code: 200},
		{method: "GET", path: "/v1/eth/address/" + ethAddr + "/balance", code: 200},
		{method: "GET", path: "/v1/ltc/address/no!/balance", code: 400},
		{method: "GET", path: "/v1/eth/address/" + ethAddr + "/txs", code: 200},
		{method: "GET", path: "/v1/eth/address/" + ethAddr + "/transfers", code: 200},
		{method: "GET", path: "/v1/ltc/address/" + addr + "/transfers", code: 404},
		{method: "GET", path: "/v1/eth/token/" + ethAddr + "/transfers", code: 200},
		{method: "GET", path: "/v1/btc/token/" + ethAddr + "/transfers", code: 404},
		{method: "GET", path: "/v1/doge/block/1", code: 404, req: reqInvalid},
	} {
		do(c)
	}

	// withdrawals: 1 LTC reached the hot wallet for this merchant (a confirmed hot sweep)
	if _, err := a.pgExec(t, `INSERT INTO sweeps (chain, currency, merchant_id, kind, state, destination, amount)
		VALUES ('ltc', 'LTC', $1, 'hot', 'confirmed', 'rltc1qhot', 100000000)`, a.id); err != nil {
		t.Fatal(err)
	}
	good := map[string]any{"address": dest, "amount": "0.3", "extId": "payout-1"}
	wd := do(specCase{method: "POST", path: "/withdrawal/create/LTC", key: wkey, body: good, code: 200})
	wdata, _ := wd["data"].(map[string]any)
	wid := fmt.Sprint(int64(wdata["id"].(float64)))
	for _, c := range []specCase{
		{method: "POST", path: "/withdrawal/create/LTC", key: wkey, body: good, code: 200}, // the same extId: the same withdrawal
		{method: "POST", path: "/withdrawal/create/ltc", key: wkey, body: `{"address":"` + dest + `","amount":0.25,"extId":77}`, code: 200},
		{method: "POST", path: "/withdrawal/create/LTC", key: wkey, body: map[string]any{"address": dest, "amount": "0.4", "extId": "payout-1"}, code: 400},
		{method: "POST", path: "/withdrawal/create/LTC", key: wkey, body: map[string]any{"address": dest, "amount": "5", "extId": "payout-2"}, code: 400},
		{method: "POST", path: "/withdrawal/create/LTC", key: wkey, body: map[string]any{"address": "rltc1qnope", "amount": "0.1", "extId": "payout-3"}, code: 400},
		{method: "POST", path: "/withdrawal/create/LTC", key: wkey, body: map[string]any{"address": dest, "amount": "0.000000001", "extId": "payout-3"}, code: 400},
		{method: "POST", path: "/withdrawal/create/LTC", key: wkey, body: map[string]any{"address": dest, "amount": "-1", "extId": "payout-3"}, code: 400, req: reqInvalid},
		{method: "POST", path: "/withdrawal/create/LTC", key: wkey, body: map[string]any{"address": dest, "amount": "0.1"}, code: 400, req: reqInvalid},
		{method: "POST", path: "/withdrawal/create/LTC", key: wkey, body: `{"address": `, code: 400, req: reqInvalid},
		{method: "POST", path: "/withdrawal/create/DOGE", key: wkey, body: good, code: 400},
		{method: "POST", path: "/withdrawal/create/LTC", key: unbound, body: good, code: 402},
		{method: "POST", path: "/withdrawal/create/LTC", key: reader, body: good, code: 402},
		{method: "POST", path: "/withdrawal/create/LTC", key: a.newKey(t, "--scope", "withdraw", "--allow-ip", "10.0.0.0/8"), body: good, code: 401},
		{method: "GET", path: "/withdrawal/" + wid, key: wkey, code: 200},
		{method: "GET", path: "/withdrawal/999999", key: wkey, code: 404},
		{method: "GET", path: "/withdrawal/abc", key: wkey, code: 400, req: reqInvalid},
		{method: "GET", path: "/withdrawal/" + wid, key: walletOnly, code: 402},
	} {
		do(c)
	}

	// settlement
	for _, c := range []specCase{
		{method: "GET", path: "/settlement/LTC", key: key, code: 200}, // the defaults
		{method: "PUT", path: "/settlement/ltc", key: wkey, body: map[string]any{"address": dest, "batchWindow": "1m", "minAmount": "0.01"}, code: 200},
		{method: "GET", path: "/settlement/LTC", key: reader, code: 200},
		{method: "PUT", path: "/settlement/LTC", key: wkey, body: map[string]any{"batchWindow": "soon"}, code: 400},
		{method: "PUT", path: "/settlement/LTC", key: wkey, body: map[string]any{"minAmount": "lots"}, code: 400, req: reqInvalid},
		{method: "PUT", path: "/settlement/LTC", key: wkey, body: map[string]any{"address": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"}, code: 400},
		{method: "PUT", path: "/settlement/LTC", key: wkey, body: `[1]`, code: 400, req: reqInvalid},
		{method: "PUT", path: "/settlement/LTC", key: unbound, body: map[string]any{"address": dest}, code: 402},
		{method: "GET", path: "/settlement/DOGE", key: key, code: 400},
		{method: "GET", path: "/settlement/LTC", key: walletOnly, code: 402},
	} {
		do(c)
	}

	// litepay receive: keyless (api.receive_merchant), with a key, and its errors (HTTP 200, as litepay answers them)
	q := func(kv ...string) string {
		vals := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			vals.Set(kv[i], kv[i+1])
		}
		return "/api/receive?" + vals.Encode()
	}
	for _, c := range []specCase{
		{method: "GET", path: q("method", "ltc", "address", dest, "callback", cb), code: 200},
		{method: "GET", path: q("method", "LTC", "address", dest, "callback_req", "0"), key: key, code: 200},
		{method: "GET", path: q("address", dest, "callback", cb), key: key, code: 200, req: reqInvalid},
		{method: "GET", path: q("method", "ltc", "callback", cb), key: key, code: 200, req: reqInvalid},
		{method: "GET", path: q("method", "ltc", "address", dest), key: key, code: 200},
		{method: "GET", path: q("method", "ltc", "address", dest, "callback_req", "2"), key: key, code: 200, req: reqInvalid},
		{method: "GET", path: q("method", "ltc", "address", dest, "callback", "http://127.0.0.1/"+strings.Repeat("a", 250)), key: key, code: 200, req: reqInvalid},
		{method: "GET", path: q("method", "ltc", "address", "rltc1qinvalid", "callback", cb), key: key, code: 200},
		{method: "GET", path: q("method", "doge", "address", dest, "callback", cb), key: key, code: 200},
		{method: "GET", path: q("method", "ltc", "address", dest, "callback", "http://10.1.2.3/cb"), key: key, code: 200},
		{method: "GET", path: q("method", "ltc", "address", dest, "callback", cb), key: "sluice_000000000000_nope", code: 200},
		{method: "GET", path: q("method", "ltc", "address", dest, "callback", cb), key: reader, code: 200},
		// btc is not indexed here: the sync gate (X-Sluice-Status 503)
		{method: "GET", path: q("method", "btc", "address", regtestBTCAddress(t), "callback_req", "0"), key: key, code: 200},
	} {
		do(c)
	}

	// an expired key, and a rate-limited one
	time.Sleep(time.Until(expiresAt))
	do(specCase{method: "GET", path: "/currencies", key: short, code: 403})
	do(specCase{method: "GET", path: q("method", "ltc", "address", dest, "callback_req", "0"), key: short, code: 200})
	// a 2/s key in a burst: each answer (200 or 429) checked, until a 429 came
	for _, path := range []string{"/currencies", q("method", "ltc", "address", dest, "callback_req", "0")} {
		limitedSeen := false
		for i := 0; i < 10 && !limitedSeen; i++ {
			b := do(specCase{method: "GET", path: path, key: limited, code: anyCode})
			limitedSeen = b["status"] == 429.0 || (b["status"] == "error" && strings.Contains(fmt.Sprint(b["message"]), "rate limit"))
		}
		if !limitedSeen {
			t.Errorf("GET %s: 10 quick requests of a 2/s key were never limited", path)
		}
	}

	// readiness with a dependency down: another serve, its ClickHouse gone
	down := startServe(t, append(append([]string{}, a.env...), "SLUICE_CLICKHOUSE_DSN=clickhouse://default:x@"+deadPort(t)+"/sluice"))
	do(specCase{method: "GET", path: "/readyz", code: 503, base: down.url})

	// the webhooks sluice sent: iqpay GET (created), PUT (confirmations), POST (confirmed), litepay callbacks
	for _, k := range []string{"iqpayDeposit GET", "iqpayDeposit PUT", "iqpayDeposit POST", "litepayCallback GET"} {
		if hooks.count(k) == 0 {
			v.fail("no %s webhook was received to check against the spec", k)
		}
	}

	v.coverage()
	v.mu.Lock()
	defer v.mu.Unlock()
	hooks.mu.Lock()
	t.Logf("checked %d requests on %d operations and webhooks %v against api/openapi.yaml", v.checked, len(v.seen), hooks.seen)
	hooks.mu.Unlock()
	if len(v.problems) > 0 {
		sort.Strings(v.problems)
		t.Errorf("%d mismatches between the server and api/openapi.yaml:\n  %s", len(v.problems), strings.Join(v.problems, "\n  "))
	}
	if log := a.srv.stderr.String(); strings.Contains(log, "panic") {
		t.Errorf("panic in the server log:\n%s", log)
	}
}
