package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/health"
)

// fixed is a Readiness with a set answer: the router's own logic under test.
type fixed map[string]health.Result

func (f fixed) Run(context.Context) (map[string]health.Result, bool) {
	ok := true
	for _, r := range f {
		ok = ok && r.OK
	}
	return f, ok
}

func router(ready Readiness) http.Handler {
	return New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: ready, Registry: prometheus.NewRegistry()})
}

func get(h http.Handler, method, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

func TestReadyz(t *testing.T) {
	up := fixed{"postgres": {OK: true}, "clickhouse": {OK: true}}
	if w := get(router(up), "GET", "/readyz"); w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"ok"`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	down := fixed{"postgres": {OK: true}, "clickhouse": {OK: false, Error: "clickhouse at 127.0.0.1:1: refused"}}
	w := get(router(down), "GET", "/readyz")
	var body struct {
		Status       string                   `json:"status"`
		Dependencies map[string]health.Result `json:"dependencies"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if w.Code != 503 || body.Status != "unavailable" || body.Dependencies["clickhouse"].Error == "" || !body.Dependencies["postgres"].OK {
		t.Fatalf("%d %+v", w.Code, body)
	}
}

func TestErrorsAreJSON(t *testing.T) {
	h := router(fixed{})
	for _, c := range []struct {
		method, path string
		code         int
	}{{"GET", "/nope", 404}, {"POST", "/healthz", 405}} {
		w := get(h, c.method, c.path)
		if w.Code != c.code || !strings.Contains(w.Body.String(), `"status":"error"`) {
			t.Errorf("%s %s: %d %s", c.method, c.path, w.Code, w.Body)
		}
	}
}

func TestMetricsCountRoutesNotPaths(t *testing.T) {
	h := router(fixed{})
	get(h, "GET", "/healthz")
	get(h, "GET", "/random/path/1")
	w := get(h, "GET", "/metrics")
	body := w.Body.String()
	if !strings.Contains(body, `route="/healthz"`) || !strings.Contains(body, `route="unmatched"`) || strings.Contains(body, "/random/path") {
		t.Fatalf("route labels wrong:\n%s", body)
	}
}
