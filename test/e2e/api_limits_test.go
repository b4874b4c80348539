package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestServeLimits: `sluice serve` takes its per-IP limits and server
// timeouts from the config. A burst of keyless /api/receive calls from one
// IP makes only the limit's wallets and then gets 429 (another IP is not
// affected); failed authentications block the IP's keys; stalled
// half-sent requests are disconnected after api.read_timeout; NUL and
// invalid UTF-8 are 400s; the refusals show in /metrics.
func TestServeLimits(t *testing.T) {
	a := newAPIEnv(t, "SLUICE_API_RECEIVE_MERCHANT=1")
	ltcNode := nodeFor(t, "ltc")
	a.start(t, nil, "--chain", "ltc")
	top := ltcNode.height(t)
	waitFor(t, "ltc catch-up", 60*time.Second, func() bool { return a.checkpoint(t, "ltc") >= top })
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(cfg, []byte(`api:
  unauthenticated_limit: 4
  failed_auth_limit: 3
  failed_auth_block: 1h
  ip_limit_window: 1h
  read_header_timeout: 1s
  read_timeout: 2s
`), 0o600); err != nil {
		t.Fatal(err)
	}
	a.srv = startServeArgs(t, a.env, "--index=false", "--config", cfg)
	var dest string
	if err := ltcNode.rpc.Call(context.Background(), "getnewaddress", &dest, "", "bech32"); err != nil {
		t.Fatal(err)
	}
	wallets := func() int64 {
		n, err := a.pgExec(t, "SELECT 1 FROM wallets")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	one, two := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	get := func(c *http.Client, path, key string) (int, http.Header, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", a.srv.url+path, nil)
		if key != "" {
			req.Header.Set("Authorization", key)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("GET %s: %d, not JSON: %s", path, resp.StatusCode, raw)
		}
		if s := resp.Header.Get("X-Sluice-Status"); s != "" && strings.HasPrefix(path, "/api/receive") {
			// litepay's errors are HTTP 200; the status they stand for rides along
			if resp.StatusCode != 200 {
				t.Errorf("GET %s: HTTP %d, litepay's route answers errors with 200", path, resp.StatusCode)
			}
			code, _ := strconv.Atoi(s)
			return code, resp.Header, body
		}
		return resp.StatusCode, resp.Header, body
	}

	// keyless receive: 4 per IP, then 429 and no wallet more
	recv := "/api/receive?" + url.Values{"method": {"ltc"}, "address": {dest}, "callback_req": {"0"}}.Encode()
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, hdr, body := get(one, recv, "")
			mu.Lock()
			defer mu.Unlock()
			codes[code]++
			if code == 429 && (hdr.Get("Retry-After") == "" || body["status"] != "error") {
				t.Errorf("429 without Retry-After or litepay's shape: %v %v", hdr, body)
			}
		}()
	}
	wg.Wait()
	if codes[200] != 4 || codes[429] != 26 {
		t.Fatalf("30 keyless receive calls, limit 4: %v", codes)
	}
	if n := wallets(); n != 4 {
		t.Errorf("%d wallets after the burst, want 4", n)
	}
	if code, _, body := get(two, recv, ""); code != 200 {
		t.Errorf("keyless receive from another IP: %d %v", code, body)
	}

	// failed authentications: 3, then the IP's keys are refused, a good one too
	for i := range 3 {
		if code, _, _ := get(one, "/currencies", "sluice_000000000000_nope"); code != 401 {
			t.Fatalf("failure %d: %d", i+1, code)
		}
	}
	if code, hdr, body := get(one, "/currencies", "sluice_000000000000_nope"); code != 429 || hdr.Get("Retry-After") == "" ||
		!strings.Contains(fmt.Sprint(body["message"]), "failed authentications") {
		t.Errorf("4th failure: %d %v", code, body)
	}
	if code, _, body := get(one, "/currencies", a.key); code != 429 {
		t.Errorf("a good key from the blocked IP: %d %v", code, body)
	}
	if code, _, body := get(two, "/currencies", a.key); code != 200 {
		t.Errorf("a good key from another IP: %d %v", code, body)
	}

	// NUL and invalid UTF-8: 400, never 500 (from the other IP: this one is blocked)
	for _, p := range []string{"/deposits?extId=a%00", "/deposits?address=%ff", "/wallet/%00", "/wallet/%ff"} {
		if code, _, body := get(two, p, a.key); code != 400 || body["status"] != 400.0 {
			t.Errorf("GET %s: %d %v", p, code, body)
		}
	}

	// stalled requests are cut off after read_timeout (2s)
	addr := strings.TrimPrefix(a.srv.url, "http://")
	var conns []net.Conn
	for i := range 40 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		half := "POST /wallet/create/LTC HTTP/1.1\r\nHost: x\r\nAuthorization: " + a.key + "\r\nContent-Length: 50\r\n\r\n{\"extId\":"
		if i%2 == 1 {
			half = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
		}
		if _, err := c.Write([]byte(half)); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	start := time.Now()
	for i, c := range conns {
		_ = c.SetReadDeadline(start.Add(8 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("stalled connection %d still open after %v: %v", i, time.Since(start), err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stalled connections closed after %v, want about 2 s", d)
	}

	// the refusals are counted
	resp, err := http.Get(a.srv.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`sluice_api_refused_total{reason="unauthenticated_limit"} 26`,
		`sluice_api_refused_total{reason="failed_auth_limit"} 2`, `sluice_api_refused_total{reason="key_limit"} 0`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// clientFrom is an HTTP client whose connections come from ip (any
// 127.x.y.z reaches a loopback listener): a second client address.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 30 * time.Second}
}
