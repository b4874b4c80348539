package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/stores"
)

// apiEnv is a fresh ledger and index with a seed of its own, a merchant
// made with `sluice merchant create`, and `sluice serve` on them.
type apiEnv struct {
	*indexEnv
	srv    *server
	id     int64
	key    string
	secret string
	pgPool *pgxpool.Pool
}

func newAPIEnv(t *testing.T, extra ...string) *apiEnv {
	t.Helper()
	return newAPIEnvHooks(t, "http://127.0.0.1:9/hook", extra...)
}

// newAPIEnvHooks is newAPIEnv with the merchant's webhooks going to hookURL.
func newAPIEnvHooks(t *testing.T, hookURL string, extra ...string) *apiEnv {
	t.Helper()
	return newAPIEnvWith(t, hookURL, nil, extra...)
}

// newAPIEnvWith also passes createArgs to `sluice merchant create`.
func newAPIEnvWith(t *testing.T, hookURL string, createArgs []string, extra ...string) *apiEnv {
	t.Helper()
	ie := newIndexEnv(t)
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	seedFile := filepath.Join(t.TempDir(), "seed")
	if err := os.WriteFile(seedFile, []byte(hex.EncodeToString(seed)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ie.env = append(ie.env, "SLUICE_SEED_FILE="+seedFile)
	ie.env = append(ie.env, extra...)
	a := &apiEnv{indexEnv: ie}
	r := run(t, ie.env, append([]string{"merchant", "create", "--name", "shop", "--webhook-url", hookURL, "--rate-limit", "100000"}, createArgs...)...)
	if r.code != 0 {
		t.Fatalf("merchant create: %s %s", r.stdout, r.stderr)
	}
	var created struct {
		ID     int64  `json:"id"`
		Key    string `json:"api_key"`
		Secret string `json:"webhook_secret"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || created.Key == "" || created.Secret == "" {
		t.Fatalf("merchant create printed %q (%v)", r.stdout, err)
	}
	a.id, a.key, a.secret = created.ID, created.Key, created.Secret
	return a
}

// call sends a request with key (none when "") and decodes the JSON answer.
func (a *apiEnv) call(t *testing.T, method, path, key string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		if s, ok := body.(string); ok {
			b = []byte(s)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.srv.url+path, rd)
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, raw)
	}
	if resp.StatusCode >= 500 && resp.StatusCode != 503 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func (a *apiEnv) newKey(t *testing.T, args ...string) string {
	t.Helper()
	r := run(t, a.env, append([]string{"merchant", "key", "create", "--merchant", "1"}, args...)...)
	var k struct {
		Key string `json:"api_key"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &k) != nil {
		t.Fatalf("key create %v: %s %s", args, r.stdout, r.stderr)
	}
	return k.Key
}

// TestMerchantAPI: the iqpay- and litepay-compatible routes against a real
// ledger, index and nodes: wallets, auth with iqpay's status codes, bad
// input answered with JSON errors (never a 500), the sync gate, receive.
func TestMerchantAPI(t *testing.T) {
	a := newAPIEnv(t)
	ltcNode := nodeFor(t, "ltc")
	a.start(t, nil, "--chain", "ltc")
	top := ltcNode.height(t)
	waitFor(t, "ltc catch-up", 60*time.Second, func() bool { return a.checkpoint(t, "ltc") >= top })
	a.srv = startServe(t, a.env)

	// auth
	if code, body := a.call(t, "GET", "/currencies", "", nil); code != 401 || !strings.Contains(body["message"].(string), "Authorization") {
		t.Fatalf("no key: %d %v", code, body)
	}
	if code, _ := a.call(t, "GET", "/currencies", "sluice_000000000000_nope", nil); code != 401 {
		t.Fatalf("bad key: %d", code)
	}
	code, body := a.call(t, "GET", "/currencies", a.key, nil)
	if code != 200 {
		t.Fatalf("currencies: %d %v", code, body)
	}
	js, _ := json.Marshal(body["data"])
	for _, c := range []string{`"BTC"`, `"LTC"`, `"ETH"`, `"USDT"`} {
		if !strings.Contains(string(js), c) {
			t.Errorf("currencies lack %s: %s", c, js)
		}
	}
	// the calling merchant's own confirmation count, not the default
	if _, err := a.pgExec(t, `INSERT INTO merchant_confirmations (merchant_id, currency, confirmations) VALUES ($1, 'LTC', 9)`, a.id); err != nil {
		t.Fatal(err)
	}
	_, body = a.call(t, "GET", "/currencies", a.key, nil)
	for _, c := range body["data"].([]any) {
		if cur := c.(map[string]any); cur["currency"] == "LTC" && cur["confirmations"] != 9.0 || cur["currency"] == "BTC" && cur["confirmations"] != 2.0 {
			t.Errorf("GET /currencies for a merchant with 9 LTC confirmations: %v", cur)
		}
	}

	// wallets: same address for the same extId, also as a number and under concurrency
	code, body = a.call(t, "POST", "/wallet/create/LTC", a.key, map[string]any{"extId": "customer-1"})
	data, _ := body["data"].(map[string]any)
	if code != 200 || body["status"] != 200.0 || !strings.HasPrefix(data["publicKey"].(string), "rltc1") || data["extId"] != "customer-1" ||
		data["currency"] != "LTC" || data["tag"] != "" {
		t.Fatalf("create wallet: %d %v", code, body)
	}
	addr := data["publicKey"].(string)
	if _, again := a.call(t, "POST", "/wallet/create/ltc", a.key, map[string]any{"extId": "customer-1"}); again["data"].(map[string]any)["publicKey"] != addr {
		t.Fatalf("second call gave another address: %v", again)
	}
	if code, body := a.call(t, "POST", "/wallet/create/LTC", a.key, `{"extId": 90233}`); code != 200 || body["data"].(map[string]any)["extId"] != "90233" {
		t.Fatalf("numeric extId: %d %v", code, body)
	}
	var wg sync.WaitGroup
	addrs := make([]string, 40)
	for i := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, b := a.call(t, "POST", "/wallet/create/LTC", a.key, map[string]any{"extId": "race"})
			if d, ok := b["data"].(map[string]any); ok {
				addrs[i], _ = d["publicKey"].(string)
			}
		}()
	}
	wg.Wait()
	for _, x := range addrs {
		if x == "" || x != addrs[0] {
			t.Fatalf("concurrent creations gave %v", addrs)
		}
	}
	if code, body := a.call(t, "GET", "/wallet/"+addr, a.key, nil); code != 200 || !strings.Contains(mustJSON(body), addr) {
		t.Fatalf("get wallet: %d %v", code, body)
	}
	if code, body := a.call(t, "GET", "/deposits?currency=LTC&limit=10", a.key, nil); code != 200 || body["next_cursor"] != "" {
		t.Fatalf("deposits: %d %v", code, body)
	}

	// bad input: 400 with a JSON message
	for _, c := range []struct {
		method, path string
		body         any
		code         int
		msg          string
	}{
		{"POST", "/wallet/create/DOGE", map[string]any{"extId": "x"}, 400, "unknown currency"},
		{"POST", "/wallet/create/LTC", map[string]any{}, 400, "extId is missing"},
		{"POST", "/wallet/create/LTC", map[string]any{"extId": strings.Repeat("x", 129)}, 400, "extId"},
		{"POST", "/wallet/create/LTC", `{"extId": `, 400, "JSON"},
		{"POST", "/wallet/create/LTC", map[string]any{"extId": true}, 400, "string or a number"},
		{"POST", "/wallet/create/BTC", map[string]any{"extId": "x"}, 503, "not synced"}, // btc is not indexed here
		{"GET", "/deposits?cursor=abc", nil, 400, "cursor"},
		{"GET", "/deposits?limit=100000", nil, 400, "limit"},
		{"GET", "/deposits?status=7", nil, 400, "status"},
		{"GET", "/wallet/rltc1qnotmine", nil, 404, "no wallet"},
	} {
		code, body := a.call(t, c.method, c.path, a.key, c.body)
		msg, _ := body["message"].(string)
		if code != c.code || body["status"] != float64(c.code) || !strings.Contains(msg, c.msg) {
			t.Errorf("%s %s %v: %d %v, want %d with %q", c.method, c.path, c.body, code, body, c.code, c.msg)
		}
	}

	// keys: network-bound, expired, revoked, scoped, rate-limited
	if code, body := a.call(t, "GET", "/currencies", a.newKey(t, "--allow-ip", "10.0.0.0/8"), nil); code != 401 || !strings.Contains(body["message"].(string), "127.0.0.1") {
		t.Errorf("key from outside its networks: %d %v", code, body)
	}
	if code, _ := a.call(t, "GET", "/currencies", a.newKey(t, "--allow-ip", "127.0.0.1"), nil); code != 200 {
		t.Errorf("key from inside its networks: %d", code)
	}
	short := a.newKey(t, "--expires", "1s")
	time.Sleep(1100 * time.Millisecond)
	if code, body := a.call(t, "GET", "/currencies", short, nil); code != 403 || !strings.Contains(body["message"].(string), "expired") {
		t.Errorf("expired key: %d %v", code, body)
	}
	revoked := a.newKey(t)
	prefix := strings.Split(revoked, "_")[1]
	if r := run(t, a.env, "merchant", "key", "revoke", "--merchant", "1", prefix); r.code != 0 {
		t.Fatalf("revoke: %s", r.stderr)
	}
	if code, _ := a.call(t, "GET", "/currencies", revoked, nil); code != 401 {
		t.Errorf("revoked key: %d", code)
	}
	reader := a.newKey(t, "--scope", "read")
	if code, body := a.call(t, "POST", "/wallet/create/LTC", reader, map[string]any{"extId": "x"}); code != 402 || !strings.Contains(body["message"].(string), "wallet") {
		t.Errorf("read-only key creating a wallet: %d %v", code, body)
	}
	limited := a.newKey(t, "--rate-limit", "2")
	limitedSeen := false
	for i := 0; i < 10 && !limitedSeen; i++ {
		code, _ := a.call(t, "GET", "/currencies", limited, nil)
		limitedSeen = code == 429
	}
	if !limitedSeen {
		t.Error("10 quick requests of a 2/s key were never limited")
	}

	// litepay receive
	var dest string
	if err := ltcNode.rpc.Call(context.Background(), "getnewaddress", &dest, "", "bech32"); err != nil {
		t.Fatal(err)
	}
	cb := "http://127.0.0.1:9/callback?id=123&secret=s3cret"
	recv := func(key string, q url.Values) (int, map[string]any) {
		return a.call(t, "GET", "/api/receive?"+q.Encode(), key, nil)
	}
	code, body = recv(a.key, url.Values{"method": {"ltc"}, "address": {dest}, "callback": {cb}})
	if code != 200 || body["destination"] != dest || body["callback_url"] != cb || body["fee_percent"] != "0.01" || body["callback_req"] != "1" ||
		!strings.HasPrefix(body["input_address"].(string), "rltc1") {
		t.Fatalf("receive: %d %v", code, body)
	}
	if _, again := recv(a.key, url.Values{"method": {"ltc"}, "address": {dest}, "callback": {cb}}); again["input_address"] == body["input_address"] {
		t.Error("two receive calls gave one address; litepay hands out a fresh one each time")
	}
	for _, c := range []struct {
		q   url.Values
		msg string
	}{
		{url.Values{"method": {"ltc"}, "address": {dest}}, "You requested callback_req 1 and no callback_url"},
		{url.Values{"method": {"ltc"}, "address": {dest}, "callback": {"http://127.0.0.1/" + strings.Repeat("a", 250)}}, "255"},
		{url.Values{"method": {"ltc"}, "address": {"rltc1qinvalid"}, "callback": {cb}}, "address"},
		{url.Values{"method": {"ltc"}, "address": {"ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfea"}, "callback": {cb}}, "address"}, // mainnet on regtest
		{url.Values{"method": {"doge"}, "address": {dest}, "callback": {cb}}, "not supported"},
		{url.Values{"method": {"ltc"}, "address": {dest}, "callback_req": {"2"}}, "callback_req"},
		{url.Values{"method": {"ltc"}, "address": {dest}, "callback": {"http://10.1.2.3/cb?secret=x"}}, "not a public address"}, // private, not allowed
		{url.Values{"method": {"ltc"}, "address": {dest}, "callback": {"ftp://shop.example/cb"}}, "callback"},
	} {
		code, body := recv(a.key, c.q)
		// litepay answers errors with HTTP 200 ("ERROR RESPONSE: 200 OK")
		if code != 200 || body["status"] != "error" || !strings.Contains(body["message"].(string), c.msg) {
			t.Errorf("receive %v: %d %v, want 200 with status error and %q", c.q, code, body, c.msg)
		}
	}
	if code, body := recv(a.key, url.Values{"method": {"ltc"}, "address": {dest}, "callback_req": {"0"}}); code != 200 || body["callback_req"] != "0" {
		t.Errorf("receive without callback: %d %v", code, body)
	}
	if code, body := recv("", url.Values{"method": {"ltc"}, "address": {dest}, "callback": {cb}}); code != 200 || body["status"] != "error" || body["input_address"] != nil {
		t.Errorf("keyless receive without api.receive_merchant: %d %v", code, body)
	}

	// withdrawals: a key with the scope and bound to IPs; the balance checked
	wkey := a.newKey(t, "--scope", "withdraw,read", "--allow-ip", "127.0.0.0/8")
	wreq := func(key string, body any) (int, map[string]any) {
		return a.call(t, "POST", "/withdrawal/create/LTC", key, body)
	}
	good := map[string]any{"address": dest, "amount": "0.3", "extId": "payout-1"}
	for _, c := range []struct {
		key  string
		body any
		code int
		msg  string
	}{
		{a.newKey(t, "--scope", "withdraw"), good, 402, "bound to IPs"},
		{a.newKey(t, "--scope", "withdraw", "--allow-ip", "10.0.0.0/8"), good, 401, "may not be used from"},
		{reader, good, 402, "withdraw"},
		{wkey, good, 400, "more than the balance"},
		{wkey, map[string]any{"address": "rltc1qnope", "amount": "0.3", "extId": "payout-x"}, 400, "address"},
		{wkey, map[string]any{"address": dest, "amount": "0.000000001", "extId": "payout-x"}, 400, "decimal places"},
		{wkey, map[string]any{"address": dest, "amount": "-1", "extId": "payout-x"}, 400, "amount"},
		{wkey, map[string]any{"address": dest, "amount": "0.3"}, 400, "extId"},
	} {
		code, body := wreq(c.key, c.body)
		if msg, _ := body["message"].(string); code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("withdrawal %v: %d %v, want %d with %q", c.body, code, body, c.code, c.msg)
		}
	}
	// 1 LTC reached the hot wallet for this merchant (a confirmed hot sweep)
	if _, err := a.pgExec(t, `INSERT INTO sweeps (chain, currency, merchant_id, kind, state, destination, amount)
		VALUES ('ltc', 'LTC', $1, 'hot', 'confirmed', 'rltc1qhot', 100000000)`, a.id); err != nil {
		t.Fatal(err)
	}
	code, body = wreq(wkey, good)
	w1, _ := body["data"].(map[string]any)
	if code != 200 || w1["status"] != 0.0 || w1["address"] != dest || mustJSON(w1["amount"]) != "0.3" || w1["currency"] != "LTC" {
		t.Fatalf("withdrawal: %d %v", code, body)
	}
	if _, again := wreq(wkey, good); mustJSON(again["data"].(map[string]any)["id"]) != mustJSON(w1["id"]) {
		t.Errorf("a repeated extId made another withdrawal: %v", again)
	}
	if code, body := wreq(wkey, map[string]any{"address": dest, "amount": "0.4", "extId": "payout-1"}); code != 400 || !strings.Contains(body["message"].(string), "extId") {
		t.Errorf("extId reused for another amount: %d %v", code, body)
	}
	if code, body := wreq(wkey, map[string]any{"address": dest, "amount": "0.8", "extId": "payout-2"}); code != 400 || !strings.Contains(body["message"].(string), "balance") {
		t.Errorf("0.8 after 0.3 of 1: %d %v", code, body)
	}
	if code, body := a.call(t, "GET", fmt.Sprintf("/withdrawal/%.0f", w1["id"]), wkey, nil); code != 200 || body["data"].(map[string]any)["extId"] != "payout-1" {
		t.Errorf("get withdrawal: %d %v", code, body)
	}

	// settlement: the merchant sets where and when; the operator sets the fee
	if code, body := a.call(t, "PUT", "/settlement/LTC", wkey, map[string]any{"address": dest, "batchWindow": "1m", "minAmount": "0.01"}); code != 200 ||
		!strings.Contains(mustJSON(body), `"min_amount":"0.01"`) || !strings.Contains(mustJSON(body), dest) {
		t.Errorf("set settlement: %d %v", code, body)
	}
	if code, body := a.call(t, "PUT", "/settlement/LTC", wkey, map[string]any{"address": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"}); code != 400 ||
		!strings.Contains(body["message"].(string), "BTC mainnet") {
		t.Errorf("settlement to a Bitcoin mainnet address: %d %v", code, body)
	}
	if code, _ := a.call(t, "PUT", "/settlement/LTC", a.newKey(t, "--scope", "withdraw"), map[string]any{"address": dest}); code != 402 {
		t.Errorf("settlement change from an unbound key: %d", code)
	}
	r := run(t, a.env, "merchant", "update", "1", "--fee", "LTC=1.5", "--fee-min", "LTC=0.0001")
	if r.code != 0 || !strings.Contains(r.stdout, `"fee_percent": "0.015"`) || !strings.Contains(r.stdout, `"fee_min": "0.0001"`) {
		t.Errorf("merchant update: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, a.env, "merchant", "update", "1", "--fee", "LTC=150"); r.code == 0 || !strings.Contains(r.stderr, "below 100%") {
		t.Errorf("a 150%% fee: %d %s", r.code, r.stderr)
	}

	// nothing secret in the server's log
	log := a.srv.stderr.String()
	for _, s := range []string{a.key, a.secret, "s3cret", short, limited} {
		if strings.Contains(log, s) {
			t.Errorf("the server log holds a secret %q", s[:10])
		}
	}
	if strings.Contains(log, "panic") {
		t.Errorf("panic in the server log:\n%s", log)
	}
}

// pgExec runs SQL on the env's ledger.
func (a *apiEnv) pgExec(t *testing.T, sql string, args ...any) (int64, error) {
	t.Helper()
	pg, err := stores.OpenPostgres(context.Background(), a.pg)
	if err != nil {
		return 0, err
	}
	defer pg.Close()
	tag, err := pg.Exec(context.Background(), sql, args...)
	return tag.RowsAffected(), err
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
