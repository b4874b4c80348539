package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// Timeouts bound what one connection may hold of the server: a client that
// sends half a request, or never reads the answer, is cut off.
type Timeouts struct {
	ReadHeader time.Duration // the request line and headers
	Read       time.Duration // the whole request, body included, from its first byte
	Write      time.Duration // from the end of the headers to the end of the response
	Idle       time.Duration // a kept-alive connection between requests
	// MaxHeaderBytes caps the request line and headers.
	MaxHeaderBytes int
}

// NewServer is the API's http.Server with its timeouts.
func NewServer(h http.Handler, t Timeouts) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read,
		WriteTimeout: t.Write, IdleTimeout: t.Idle, MaxHeaderBytes: t.MaxHeaderBytes}
}

// Reasons a request is refused before any work, as the refused counter
// labels them.
const (
	refusedUnauthenticated = "unauthenticated_limit" // too many requests without a key from one IP
	refusedFailedAuth      = "failed_auth_limit"     // an IP blocked after too many failed authentications
	refusedKeyLimit        = "key_limit"             // over the API key's own rate limit
)

func newRefused(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_api_refused_total",
		Help: "Merchant API requests refused with 429 by a rate limit, by reason (unauthenticated_limit, failed_auth_limit, key_limit).",
	}, []string{"reason"})
	for _, r := range []string{refusedUnauthenticated, refusedFailedAuth, refusedKeyLimit} {
		c.WithLabelValues(r) // exported at 0 from the start
	}
	reg.MustRegister(c)
	return c
}

// retryAfter sets Retry-After to d in whole seconds, at least 1.
func retryAfter(c *gin.Context, d time.Duration) {
	c.Header("Retry-After", strconv.Itoa(max(1, int((d+time.Second-1)/time.Second))))
}

// litepayShaped tells whether a route answers errors in litepay's shape
// ({"status":"error"}): /api/receive, the probes and unmatched paths; the
// others use iqpay's ({"status": <code>}).
func litepayShaped(route string) bool {
	return route == "" || route == "/api/receive" || route == "/healthz" || route == "/readyz" ||
		route == "/metrics" || route == "/openapi.yaml"
}

// badRequest answers 400 in the route's error shape.
func badRequest(c *gin.Context, msg string) {
	if c.FullPath() == "/api/receive" {
		litepayError(c, http.StatusBadRequest, msg)
		return
	}
	if litepayShaped(c.FullPath()) {
		c.AbortWithStatusJSON(http.StatusBadRequest, errorBody(msg))
		return
	}
	fail(c, http.StatusBadRequest, "%s", msg)
}

// validText refuses a path or query that holds NUL or is not UTF-8 once
// unescaped: such text can be neither stored nor looked up (Postgres
// refuses it), so it is a 400, not a 500 from the ledger.
func validText() gin.HandlerFunc {
	return func(c *gin.Context) {
		if what := badText(c.Request.URL.Path); what != "" {
			badRequest(c, "the path "+what)
			return
		}
		// the pairs the handlers see (c.Request.URL.Query() drops bad escapes too)
		q, _ := url.ParseQuery(c.Request.URL.RawQuery)
		for k, vs := range q {
			if what := badText(k); what != "" {
				badRequest(c, "a query parameter name "+what)
				return
			}
			for _, v := range vs {
				if what := badText(v); what != "" {
					badRequest(c, "query parameter "+strconv.Quote(k)+" "+what)
					return
				}
			}
		}
	}
}

// badText says what is wrong with s as text ("" when nothing).
func badText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "holds a NUL character (%00)"
	}
	return ""
}
