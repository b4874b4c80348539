package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// loadSpec loads the embedded spec and validates it as an OpenAPI document.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("api/openapi.yaml does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("api/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

func TestOpenAPISpecIsValid(t *testing.T) {
	doc := loadSpec(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %q: the spec uses 3.1 (type arrays, webhooks)", doc.OpenAPI)
	}
	for _, name := range []string{"iqpayDeposit", "litepayCallback"} {
		if doc.Webhooks[name] == nil {
			t.Errorf("webhook %s is not described", name)
		}
	}
	// every operation answers something, and every keyed one says how a bad key is answered
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" || op.Responses.Len() == 0 {
				t.Errorf("%s %s: no operationId or no responses", method, path)
			}
			if op.Security == nil {
				t.Errorf("%s %s: say which security applies (security: [] for none)", method, path)
				continue
			}
			// litepay's route answers every error with 200 (X-Sluice-Status says which)
			if len(*op.Security) > 0 && op.Responses.Status(401) == nil && op.OperationID != "receive" {
				t.Errorf("%s %s takes an API key but documents no 401", method, path)
			}
		}
	}
}

// ginPath turns gin's /wallet/:address into OpenAPI's /wallet/{address}.
func ginPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// TestOpenAPICoversEveryRoute: every route New registers (merchant API
// included) is in the spec with its method, and the spec has nothing the
// router lacks. A new route without a spec entry fails here.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc := loadSpec(t)
	h := New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: fixed{}, Registry: prometheus.NewRegistry(),
		Merchant: &Merchant{}, Explorer: &Explorer{}})
	served := map[string]bool{}
	for _, r := range h.(*gin.Engine).Routes() {
		served[r.Method+" "+ginPath(r.Path)] = true
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	var undocumented, unserved []string
	for r := range served {
		if !documented[r] {
			undocumented = append(undocumented, r)
		}
	}
	for r := range documented {
		if !served[r] {
			unserved = append(unserved, r)
		}
	}
	sort.Strings(undocumented)
	sort.Strings(unserved)
	if len(undocumented) > 0 {
		t.Errorf("routes missing from api/openapi.yaml:\n  %s", strings.Join(undocumented, "\n  "))
	}
	if len(unserved) > 0 {
		t.Errorf("api/openapi.yaml documents routes the server does not have:\n  %s", strings.Join(unserved, "\n  "))
	}
	if len(served) < 15 {
		t.Errorf("only %d routes registered: %v", len(served), served)
	}
}

// check validates one in-process request and its response against the spec.
func check(t *testing.T, doc *openapi3.T, router routers.Router, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := get(h, method, path)
	req := httptest.NewRequest(method, path, nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: not in the spec: %v", method, path, err)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Errorf("%s %s: request: %v", method, path, err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: w.Code, Header: w.Header(), Options: opts}
	if err := openapi3filter.ValidateResponse(context.Background(), out.SetBodyBytes(w.Body.Bytes())); err != nil {
		t.Errorf("%s %s: %d %s: response: %v", method, path, w.Code, w.Body, err)
	}
	return w
}

// TestOpenAPIProbesAndSpecRoute: the routes that need no stack answer as
// the spec says, in process: health, readiness up and down, metrics, the
// spec itself, and the error body of unknown paths and methods.
func TestOpenAPIProbesAndSpecRoute(t *testing.T) {
	doc := loadSpec(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	h := New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
		Ready: fixed{"postgres": {OK: true, LatencyMS: 1.5}}})
	check(t, doc, router, h, "GET", "/healthz")
	check(t, doc, router, h, "GET", "/readyz")
	check(t, doc, router, h, "GET", "/metrics")
	if w := check(t, doc, router, h, "GET", "/openapi.yaml"); !bytes.Equal(w.Body.Bytes(), OpenAPI()) || w.Code != 200 {
		t.Errorf("GET /openapi.yaml: %d, not the embedded spec", w.Code)
	}
	down := New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
		Ready: fixed{"postgres": {OK: true}, "clickhouse": {OK: false, Error: "clickhouse at 127.0.0.1:1: refused"}}})
	if w := check(t, doc, router, down, "GET", "/readyz"); w.Code != 503 {
		t.Errorf("readyz with a dependency down: %d", w.Code)
	}

	// unknown paths and methods: no operation, the Error schema
	errSchema := doc.Components.Schemas["Error"].Value
	for _, c := range [][2]string{{"GET", "/nope"}, {"POST", "/healthz"}, {"DELETE", "/openapi.yaml"}} {
		w := get(h, c[0], c[1])
		var body any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s %s: %s", c[0], c[1], w.Body)
		}
		if err := errSchema.VisitJSON(body, openapi3.EnableJSONSchema2020()); err != nil || (w.Code != 404 && w.Code != 405) {
			t.Errorf("%s %s: %d %s: %v", c[0], c[1], w.Code, w.Body, err)
		}
	}
}

// TestOpenAPIErrorStatusIsTheCode: an iqpay error body whose status is not
// the HTTP code does not pass, so the spec pins each error's status.
func TestOpenAPIErrorStatusIsTheCode(t *testing.T) {
	doc := loadSpec(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/deposits", nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	hdr := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	for _, c := range []struct {
		code int
		body string
		ok   bool
	}{
		{400, `{"status":400,"message":"limit \"0\": from 1 to 500"}`, true},
		{400, `{"status":401,"message":"x"}`, false},
		{400, `{"status":"error","message":"x"}`, false},
		{503, `{"status":503,"message":"ltc is not synced yet"}`, true},
		{500, `{"status":"error","message":"internal error"}`, true}, // a recovered panic
		{500, `{"status":500,"message":"internal error"}`, true},
		{418, `{"status":418,"message":"x"}`, false},
		{200, `{"status":200,"data":[],"next_cursor":"","extra":1}`, false},
		{200, `{"status":200,"data":[],"next_cursor":""}`, true},
	} {
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: c.code, Header: hdr, Options: opts}
		err := openapi3filter.ValidateResponse(context.Background(), out.SetBodyBytes([]byte(c.body)))
		if (err == nil) != c.ok {
			t.Errorf("%d %s: valid %v, want %v (%v)", c.code, c.body, err == nil, c.ok, err)
		}
	}
}
