package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sluicepay/sluice/config"
)

func TestParseAllow(t *testing.T) {
	// every keyword the config accepts means something here
	for _, k := range config.WebhookTargetKeywords {
		if a, err := ParseAllow([]string{k}); err != nil || len(a.prefixes) == 0 {
			t.Errorf("keyword %q: %v", k, err)
		}
	}
	a, err := ParseAllow([]string{"10.1.0.0/16", " fd00::1 ", "Loopback"})
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]bool{"10.1.2.3": true, "10.2.0.1": false, "fd00::1": true, "fd00::2": false,
		"127.0.0.5": true, "::1": true, "::ffff:127.0.0.1": true, "192.168.1.1": false} {
		if got := a.check(ip, netip.MustParseAddr(ip)) == nil; got != want {
			t.Errorf("%s allowed = %v, want %v", ip, got, want)
		}
	}
	if _, err := ParseAllow([]string{"intranet"}); err == nil || !strings.Contains(err.Error(), "neither a keyword") {
		t.Fatalf("bad entry: %v", err)
	}
}

func TestValidateTarget(t *testing.T) {
	ctx := context.Background()
	none := Allow{}
	loopback, _ := ParseAllow([]string{"loopback"})
	cases := []struct {
		url   string
		allow Allow
		want  string // "" = accepted
	}{
		{"https://8.8.8.8/hook", none, ""},
		{"http://[2001:4860:4860::8888]:8080/hook?x=1", none, ""},
		{"http://10.0.0.1/hook", none, "10.0.0.1 is a private address"},
		{"http://172.16.5.4/", none, "private"},
		{"http://192.168.0.10/", none, "private"},
		{"http://169.254.169.254/latest/meta-data", none, "link-local"},
		{"http://127.0.0.1:8080/", none, "loopback"},
		{"http://[::1]/", none, "::1 is a loopback address"},
		{"http://[::ffff:127.0.0.1]/", none, "loopback"},
		{"http://[fe80::1%25eth0]/", none, "link-local"},
		{"http://[fd12:3456::1]/", none, "private"},
		{"http://100.64.0.1/", none, "CGNAT"},
		{"http://0.0.0.0/", none, "unspecified"},
		{"http://[::]/", none, "unspecified"},
		{"http://224.0.0.1/", none, "multicast"},
		{"http://255.255.255.255/", none, "reserved"},
		{"http://localhost:9/", none, "localhost resolves to"},
		{"http://localhost:9/", loopback, ""},
		{"http://127.0.0.1:9/", loopback, ""},
		{"http://10.0.0.1/", loopback, "private"},
		{"ftp://8.8.8.8/", none, `scheme "ftp" is not supported`},
		{"javascript:alert(1)", none, "not supported"},
		{"http:///nohost", none, "has no host"},
		{"http://8.8.8.8:99999/", none, "port"},
		{"https://8.8.8.8/" + strings.Repeat("a", MaxURLLength), none, "the limit is 2048"},
		{"http://nonexistent.invalid/", none, "does not resolve"},
	}
	for _, tc := range cases {
		err := ValidateTarget(ctx, tc.url, tc.allow)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.url, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60s: error %v, want it to say %q", tc.url, err, tc.want)
		}
		if strings.Contains(tc.want, "address") && !errors.Is(err, ErrPrivateTarget) {
			t.Errorf("%s: not ErrPrivateTarget: %v", tc.url, err)
		}
	}
}

// TestDialRefusesPrivate: the check at connect time holds whatever the name
// resolved to before (DNS rebinding): "localhost" reaches a live server on
// 127.0.0.1 only when loopback is allowed.
func TestDialRefusesPrivate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	defer srv.Close()
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	_, err := newClient(Allow{}, 5*time.Second).Get(url)
	if !errors.Is(err, ErrPrivateTarget) || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("want a refusal, got %v", err)
	}
	loopback, _ := ParseAllow([]string{"loopback"})
	resp, err := newClient(loopback, 5*time.Second).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
}
