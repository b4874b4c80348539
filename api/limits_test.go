package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/internal/testledger"
	"github.com/sluicepay/sluice/merchant"
	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/payments/keys"
)

// liveAPI is the merchant API on a real listener, over a fresh ledger on
// the test stack's Postgres and the stack's Redis: LTC (regtest) enabled,
// keyless receive served as the merchant, limits of the test's choosing.
type liveAPI struct {
	url  string
	pool *pgxpool.Pool
	id   int64
	key  string // every scope, usable from anywhere
	dest string // a valid regtest LTC address to forward to
	reg  *prometheus.Registry
}

func newLiveAPI(t *testing.T, lim merchant.IPLimiter, tm Timeouts) *liveAPI {
	t.Helper()
	ctx := context.Background()
	pool := testledger.Fresh(t)
	opts, err := redis.ParseURL(testenv.Get(t, "SLUICE_REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	created, err := merchant.Create(ctx, pool, merchant.Spec{Name: "shop"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := keys.ParseSeed("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about")
	if err != nil {
		t.Fatal(err)
	}
	sk := payments.SeedKeys{Seed: seed, Networks: map[string]string{"LTC": "regtest"}}
	dest, err := sk.Address("LTC", 999, 0)
	if err != nil {
		t.Fatal(err)
	}
	lim.Redis = rdb
	lim.Prefix = testenv.Name("iplimit") + ":" // counters of this test only
	reg := prometheus.NewRegistry()
	h := New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: fixed{}, Registry: reg, Merchant: &Merchant{
		Ledger:     &payments.Ledger{DB: pool, Keys: sk, Networks: sk.Networks},
		Limiter:    &merchant.RateLimiter{Redis: rdb, Default: 100000},
		IPLimits:   &lim,
		Currencies: map[string]Currency{"LTC": {Currency: "LTC", Chain: "ltc", Network: "regtest", Decimals: 8, Confirmations: 6}},
		ReceiveFee: "0.01", ReceiveMerchant: created.ID,
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h, tm)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &liveAPI{url: "http://" + ln.Addr().String(), pool: pool, id: created.ID, key: created.APIKey, dest: dest, reg: reg}
}

// from is an HTTP client whose connections come from ip (any 127.x.y.z
// reaches a loopback listener), so tests can be two clients.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 30 * time.Second}
}

type answer struct {
	code int
	hdr  http.Header
	body map[string]any
	raw  string
}

func (a answer) msg() string { s, _ := a.body["message"].(string); return s }

// do sends a request with key ("" none) and body (sent as is) from client.
func (l *liveAPI) do(t *testing.T, client *http.Client, method, path, key, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, l.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, hdr: resp.Header, raw: string(raw)}
	if strings.HasPrefix(path, "/api/receive") {
		// litepay's errors are HTTP 200; the status they stand for is X-Sluice-Status
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s %s: HTTP %d; litepay's route answers 200, errors too", method, path, resp.StatusCode)
		}
		if s := resp.Header.Get(HeaderStatus); s != "" {
			a.code, _ = strconv.Atoi(s)
		}
	}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, raw)
	}
	if a.code >= 500 {
		t.Errorf("%s %q: %d %s", method, path, a.code, raw)
	}
	return a
}

func (l *liveAPI) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := l.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (l *liveAPI) refused(t *testing.T, reason string) float64 {
	t.Helper()
	mfs, err := l.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sluice_api_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "reason" && lp.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("sluice_api_refused_total{reason=%q} is not exported", reason)
	return 0
}

func retrySeconds(t *testing.T, a answer, most int) {
	t.Helper()
	var s int
	if _, err := fmt.Sscan(a.hdr.Get("Retry-After"), &s); err != nil || s < 1 || s > most {
		t.Errorf("Retry-After %q: want 1 to %d seconds", a.hdr.Get("Retry-After"), most)
	}
}

// TestKeylessReceiveLimitedPerIP: a burst of keyless /api/receive calls
// from one IP gets 429 (litepay's error shape, Retry-After) past the
// limit and no wallet more; another IP is not affected; the refusals are
// counted in a metric exported from zero.
func TestKeylessReceiveLimitedPerIP(t *testing.T) {
	l := newLiveAPI(t, merchant.IPLimiter{Unauthenticated: 5, FailedAuth: 100, Window: time.Hour, Block: time.Minute}, Timeouts{})
	if l.refused(t, "unauthenticated_limit") != 0 || l.refused(t, "failed_auth_limit") != 0 || l.refused(t, "key_limit") != 0 {
		t.Fatal("the refused counters do not start at 0")
	}
	path := "/api/receive?" + url.Values{"method": {"ltc"}, "address": {l.dest}, "callback_req": {"0"}}.Encode()
	one, two := from("127.0.0.1"), from("127.0.0.2")
	var mu sync.Mutex
	codes := map[int]int{}
	var limited answer
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := l.do(t, one, "GET", path, "", "")
			mu.Lock()
			defer mu.Unlock()
			codes[a.code]++
			if a.code == 429 {
				limited = a
			}
		}()
	}
	wg.Wait()
	if codes[200] != 5 || codes[429] != 35 {
		t.Fatalf("40 keyless calls with a limit of 5: %v", codes)
	}
	if limited.body["status"] != "error" || !strings.Contains(limited.msg(), "too many receive calls without an API key") {
		t.Errorf("429 body: %s", limited.raw)
	}
	retrySeconds(t, limited, 3600)
	if n := l.count(t, "wallets"); n != 5 {
		t.Errorf("%d wallets after 5 allowed calls", n)
	}
	if n := l.count(t, "receive_addresses"); n != 5 {
		t.Errorf("%d receive addresses after 5 allowed calls", n)
	}
	if a := l.do(t, two, "GET", path, "", ""); a.code != 200 {
		t.Errorf("another IP: %d %s", a.code, a.raw)
	}
	// a key is not limited by the keyless limit
	if a := l.do(t, one, "GET", path, l.key, ""); a.code != 200 {
		t.Errorf("with a key from the limited IP: %d %s", a.code, a.raw)
	}
	if n := l.count(t, "wallets"); n != 7 {
		t.Errorf("%d wallets, want 7", n)
	}
	if got := l.refused(t, "unauthenticated_limit"); got != 35 {
		t.Errorf("refused counter %v, want 35", got)
	}
}

// TestFailedAuthBlocksIP: past the failed-auth limit an IP's keys are
// refused with 429, even a good one, until the block ends; another IP
// is not affected.
func TestFailedAuthBlocksIP(t *testing.T) {
	l := newLiveAPI(t, merchant.IPLimiter{Unauthenticated: 100, FailedAuth: 3, Window: time.Hour, Block: 2 * time.Second}, Timeouts{})
	one, two := from("127.0.0.1"), from("127.0.0.2")
	for i, key := range []string{"sluice_000000000000_nope", "", "sluice_000000000000_nope"} {
		if a := l.do(t, one, "GET", "/currencies", key, ""); a.code != 401 {
			t.Fatalf("failure %d: %d %s", i+1, a.code, a.raw)
		}
	}
	a := l.do(t, one, "GET", "/currencies", "sluice_000000000000_nope", "")
	if a.code != 429 || a.body["status"] != 429.0 || !strings.Contains(a.msg(), "too many failed authentications") {
		t.Fatalf("4th failure: %d %s", a.code, a.raw)
	}
	retrySeconds(t, a, 2)
	blockedAt := time.Now()
	if a := l.do(t, one, "GET", "/currencies", l.key, ""); a.code != 429 {
		t.Errorf("a good key from the blocked IP: %d %s", a.code, a.raw)
	}
	// litepay's route with a key is an auth attempt too, answered in its shape
	recv := "/api/receive?" + url.Values{"method": {"ltc"}, "address": {l.dest}, "callback_req": {"0"}}.Encode()
	if a := l.do(t, one, "GET", recv, l.key, ""); a.code != 429 || a.body["status"] != "error" {
		t.Errorf("receive with a key from the blocked IP: %d %s", a.code, a.raw)
	}
	if a := l.do(t, two, "GET", "/currencies", l.key, ""); a.code != 200 {
		t.Errorf("a good key from another IP: %d %s", a.code, a.raw)
	}
	if a := l.do(t, two, "GET", "/currencies", "sluice_000000000000_nope", ""); a.code != 401 {
		t.Errorf("a bad key from another IP: %d %s", a.code, a.raw)
	}
	if got := l.refused(t, "failed_auth_limit"); got != 3 {
		t.Errorf("refused counter %v, want 3", got)
	}
	time.Sleep(time.Until(blockedAt.Add(2100 * time.Millisecond)))
	if a := l.do(t, one, "GET", "/currencies", l.key, ""); a.code != 200 {
		t.Errorf("after the block: %d %s", a.code, a.raw)
	}
}

// TestBadTextIs400: NUL or invalid UTF-8 in a path, a query or a JSON
// string is a 400 in the route's error shape, never a 500 from Postgres.
func TestBadTextIs400(t *testing.T) {
	l := newLiveAPI(t, merchant.IPLimiter{}, Timeouts{})
	c := from("127.0.0.1")
	bk, err := merchant.CreateKey(context.Background(), l.pool, l.id, merchant.KeySpec{Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	bound := bk.APIKey
	recv := "/api/receive?method=ltc&callback_req=0&address="
	for _, tc := range []struct {
		method, path, body string
		shape              any // the "status" of the body
		msg                string
	}{
		{"GET", "/deposits?extId=a%00b", "", 400.0, "NUL"},
		{"GET", "/deposits?extId=%ff", "", 400.0, "UTF-8"},
		{"GET", "/deposits?address=%c3%28", "", 400.0, "UTF-8"},
		{"GET", "/deposits?%00=1", "", 400.0, "NUL"},
		{"GET", "/wallet/rltc1q%00", "", 400.0, "NUL"},
		{"GET", "/wallet/%ff%fe", "", 400.0, "UTF-8"},
		{"GET", "/settlement/LT%00C", "", 400.0, "NUL"},
		{"GET", "/webhooks/deliveries?state=%ff", "", 400.0, "UTF-8"},
		{"GET", recv + "%00", "", "error", "NUL"},
		{"GET", recv + "%ff", "", "error", "UTF-8"},
		{"GET", "/no%00such", "", "error", "NUL"},
		{"POST", "/wallet/create/LTC", `{"extId": "a\u0000b"}`, 400.0, "NUL"},
		{"POST", "/wallet/create/LTC", "{\"extId\": \"a\xffb\"}", 400.0, "UTF-8"},
		{"POST", "/wallet/create/LTC", `{"extId": "\udc00"}`, 400.0, "surrogate"},
		{"POST", "/wallet/create/LTC", `{"extId": "\ud800x"}`, 400.0, "surrogate"},
		{"POST", "/wallet/create/LTC", `{"extId": "x", "other": "\u0000"}`, 400.0, "NUL"},
		{"PUT", "/settlement/LTC", `{"batchWindow": "1m\u0000"}`, 400.0, "NUL"},
		{"POST", "/withdrawal/create/LTC", `{"address": "` + l.dest + `", "amount": "0.1", "extId": "p\u0000"}`, 400.0, "NUL"},
	} {
		key := l.key
		if tc.method != "GET" && !strings.HasPrefix(tc.path, "/wallet/") {
			key = bound // money routes want a key bound to IPs
		}
		a := l.do(t, c, tc.method, tc.path, key, tc.body)
		if a.code != 400 || a.body["status"] != tc.shape || !strings.Contains(a.msg(), tc.msg) {
			t.Errorf("%s %s %q: %d %s, want 400 with %q", tc.method, tc.path, tc.body, a.code, a.raw, tc.msg)
		}
	}
	if n := l.count(t, "wallets"); n != 0 {
		t.Errorf("%d wallets made from bad text", n)
	}
	// a surrogate pair is a character, not an error
	if a := l.do(t, c, "POST", "/wallet/create/LTC", l.key, `{"extId": "\ud83d\ude00"}`); a.code != 200 || a.body["data"].(map[string]any)["extId"] != "😀" {
		t.Errorf("an escaped emoji: %d %s", a.code, a.raw)
	}
}

// TestExtIDCanonical: one text, one extId. Whitespace at either end,
// whitespace only and invalid UTF-8 are refused; JSON numbers are kept by
// their text as sent, so 1.50 and 1.5 are two customers.
func TestExtIDCanonical(t *testing.T) {
	l := newLiveAPI(t, merchant.IPLimiter{}, Timeouts{})
	c := from("127.0.0.1")
	wallet := func(body string) answer { t.Helper(); return l.do(t, c, "POST", "/wallet/create/LTC", l.key, body) }
	addr := func(a answer) string {
		t.Helper()
		d, _ := a.body["data"].(map[string]any)
		if a.code != 200 || d == nil {
			t.Fatalf("%d %s", a.code, a.raw)
		}
		return d["publicKey"].(string) + " " + d["extId"].(string)
	}
	n150, n15, s150 := addr(wallet(`{"extId": 1.50}`)), addr(wallet(`{"extId": 1.5}`)), addr(wallet(`{"extId": "1.50"}`))
	if n150 == n15 || n150 != s150 || !strings.HasSuffix(n150, " 1.50") || !strings.HasSuffix(n15, " 1.5") {
		t.Errorf("1.50 %q, 1.5 %q, \"1.50\" %q", n150, n15, s150)
	}
	for _, tc := range []struct{ body, msg string }{
		{`{"extId": " "}`, "only whitespace"},
		{`{"extId": "\u00a0\u2003"}`, "only whitespace"},
		{`{"extId": " customer-1"}`, "leading or trailing whitespace"},
		{`{"extId": "customer-1 "}`, "leading or trailing whitespace"},
		{`{"extId": "customer-1\u3000"}`, "leading or trailing whitespace"},
		{`{"extId": "a\tb"}`, "control characters"},
		{"{\"extId\": \"caf\xe9\"}", "UTF-8"},
		{`{"extId": "caf\udce9"}`, "surrogate"},
	} {
		if a := wallet(tc.body); a.code != 400 || !strings.Contains(a.msg(), tc.msg) {
			t.Errorf("%q: %d %s, want 400 with %q", tc.body, a.code, a.raw, tc.msg)
		}
	}
	// withdrawals read the extId the same way
	bound, err := merchant.CreateKey(context.Background(), l.pool, l.id, merchant.KeySpec{Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	if a := l.do(t, c, "POST", "/withdrawal/create/LTC", bound.APIKey, `{"address": "`+l.dest+`", "amount": "0.1", "extId": " "}`); a.code != 400 || !strings.Contains(a.msg(), "whitespace") {
		t.Errorf("withdrawal with a blank extId: %d %s", a.code, a.raw)
	}
	if n := l.count(t, "wallets"); n != 2 {
		t.Errorf("%d wallets, want 2 (1.50 and 1.5)", n)
	}
}

// TestTrailingDataRefused: every JSON-body route reads one JSON value and
// then only whitespace.
func TestTrailingDataRefused(t *testing.T) {
	l := newLiveAPI(t, merchant.IPLimiter{}, Timeouts{})
	c := from("127.0.0.1")
	bound, err := merchant.CreateKey(context.Background(), l.pool, l.id, merchant.KeySpec{Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		method, path, key, good string
	}{
		{"POST", "/wallet/create/LTC", l.key, `{"extId": "x"}`},
		{"POST", "/withdrawal/create/LTC", bound.APIKey, `{"address": "` + l.dest + `", "amount": "0.1", "extId": "p-1"}`},
		{"PUT", "/settlement/LTC", bound.APIKey, `{"batchWindow": "1m"}`},
	} {
		for _, tail := range []string{` {"extId": "y"}`, `garbage`, `}`, `]`, ` 1`, `"`} {
			if a := l.do(t, c, r.method, r.path, r.key, r.good+tail); a.code != 400 || !strings.Contains(a.msg(), "JSON") {
				t.Errorf("%s %s %q: %d %s, want 400", r.method, r.path, r.good+tail, a.code, a.raw)
			}
		}
	}
	if n := l.count(t, "wallets"); n != 0 {
		t.Errorf("%d wallets made from bodies with trailing data", n)
	}
	if a := l.do(t, c, "POST", "/wallet/create/LTC", l.key, "{\"extId\": \"x\"} \r\n\t "); a.code != 200 {
		t.Errorf("trailing whitespace: %d %s", a.code, a.raw)
	}
	if a := l.do(t, c, "PUT", "/settlement/LTC", bound.APIKey, `{"batchWindow": "1m"}`+"\n"); a.code != 200 {
		t.Errorf("settlement with a final newline: %d %s", a.code, a.raw)
	}
}

// TestZeroPrefixIsNotBound: a key allowed from 0.0.0.0/0 or ::/0 is a key
// usable from anywhere, so it may neither withdraw nor change settlement.
func TestZeroPrefixIsNotBound(t *testing.T) {
	l := newLiveAPI(t, merchant.IPLimiter{}, Timeouts{})
	c := from("127.0.0.1")
	key := func(nets ...string) string {
		t.Helper()
		spec := merchant.KeySpec{}
		for _, n := range nets {
			spec.Networks = append(spec.Networks, netip.MustParsePrefix(n))
		}
		k, err := merchant.CreateKey(context.Background(), l.pool, l.id, spec)
		if err != nil {
			t.Fatal(err)
		}
		return k.APIKey
	}
	// the client is 127.0.0.1: each list admits it, and one /0 unbinds the key
	w := `{"address": "` + l.dest + `", "amount": "0.1", "extId": "p-1"}`
	for _, nets := range [][]string{{"0.0.0.0/0"}, {"0.0.0.0/0", "::/0"}, {"127.0.0.0/8", "::/0"}, {"::/0", "127.0.0.1/32"}} {
		k := key(nets...)
		if a := l.do(t, c, "POST", "/withdrawal/create/LTC", k, w); a.code != 402 || !strings.Contains(a.msg(), "bound to IPs") {
			t.Errorf("withdrawal with a key for %v: %d %s", nets, a.code, a.raw)
		}
		if a := l.do(t, c, "PUT", "/settlement/LTC", k, `{"batchWindow": "1m"}`); a.code != 402 {
			t.Errorf("settlement change with a key for %v: %d %s", nets, a.code, a.raw)
		}
	}
	// a real binding passes that check (and fails later on the bad body)
	if a := l.do(t, c, "POST", "/withdrawal/create/LTC", key("127.0.0.0/8", "::1/128"), `{`); a.code != 400 {
		t.Errorf("withdrawal with a bound key: %d %s", a.code, a.raw)
	}
	if a := l.do(t, c, "PUT", "/settlement/LTC", key("127.0.0.1/32"), `{"batchWindow": "1m"}`); a.code != 200 {
		t.Errorf("settlement change with a bound key: %d %s", a.code, a.raw)
	}
}

// TestSlowClientsDisconnected: connections that send half a body or half
// their headers and stall are closed after the read timeouts, all of
// them, while the server keeps answering others.
func TestSlowClientsDisconnected(t *testing.T) {
	l := newLiveAPI(t, merchant.IPLimiter{}, Timeouts{ReadHeader: 500 * time.Millisecond, Read: time.Second, Write: 5 * time.Second,
		Idle: time.Second, MaxHeaderBytes: 8 << 10})
	addr := strings.TrimPrefix(l.url, "http://")
	const n = 60
	conns := make([]net.Conn, 0, n)
	start := time.Now()
	for i := range n {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		req := "POST /wallet/create/LTC HTTP/1.1\r\nHost: x\r\nAuthorization: " + l.key + "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"extId\": "
		if i%2 == 1 {
			req = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " // half the headers
		}
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	// meanwhile a normal client is served
	if a := l.do(t, from("127.0.0.1"), "GET", "/currencies", l.key, ""); a.code != 200 {
		t.Fatalf("a normal request among stalled ones: %d %s", a.code, a.raw)
	}
	var wg sync.WaitGroup
	closed := make([]time.Duration, n)
	for i, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err := io.Copy(io.Discard, conn) // until the server closes it
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return // still open after 10 s: closed[i] stays 0
			}
			closed[i] = time.Since(start)
		}()
	}
	wg.Wait()
	for i, d := range closed {
		if d == 0 || d > 4*time.Second {
			t.Errorf("stalled connection %d (half a %s): closed after %v, want about 1 s", i, map[bool]string{true: "header", false: "body"}[i%2 == 1], d)
		}
	}
	if n := l.count(t, "wallets"); n != 0 {
		t.Errorf("%d wallets from half-sent bodies", n)
	}
	// an oversized header block is refused
	big := strings.Repeat("a", 16<<10)
	req, _ := http.NewRequest("GET", l.url+"/healthz", nil)
	req.Header.Set("X-Big", big)
	resp, err := from("127.0.0.1").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB of headers with max_header_bytes 8 KiB: %d", resp.StatusCode)
	}
}
