package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluicepay/sluice/health"
)

// Readiness answers whether every dependency is up; health.Checker is one.
type Readiness interface {
	Run(ctx context.Context) (map[string]health.Result, bool)
}

// Deps is what the router needs from the process.
type Deps struct {
	Log      *slog.Logger
	Ready    Readiness
	Registry *prometheus.Registry // metrics are registered here and served at /metrics
	// Merchant, when set, serves the merchant API (iqpay and litepay routes).
	Merchant *Merchant
	// Explorer, when set, serves the explorer API (/v1/:chain/...).
	Explorer *Explorer
	// TrustedProxies may set X-Forwarded-For (CIDRs or IPs); none by
	// default, so a client cannot pick the IP its key is checked against.
	TrustedProxies []string
}

// New builds the HTTP handler.
func New(d Deps) http.Handler {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	if err := r.SetTrustedProxies(d.TrustedProxies); err != nil {
		d.Log.Error("api.trusted_proxies ignored", "err", err)
		_ = r.SetTrustedProxies(nil)
	}
	r.Use(requestMetrics(d.Registry), accessLog(d.Log), gin.CustomRecovery(func(c *gin.Context, err any) {
		d.Log.Error("handler panicked", "path", c.Request.URL.Path, "panic", err)
		c.AbortWithStatusJSON(http.StatusInternalServerError, errorBody("internal error; the server log has details"))
	}), validText())
	r.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, errorBody("no such endpoint: "+c.Request.Method+" "+c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		c.JSON(http.StatusMethodNotAllowed, errorBody("method "+c.Request.Method+" not allowed on "+c.Request.URL.Path))
	})

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", func(c *gin.Context) {
		results, ok := d.Ready.Run(c.Request.Context())
		status, code := "ok", http.StatusOK
		if !ok {
			status, code = "unavailable", http.StatusServiceUnavailable
		}
		c.JSON(code, gin.H{"status": status, "dependencies": results})
	})
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{Registry: d.Registry, ErrorHandling: promhttp.ContinueOnError})))
	r.GET("/openapi.yaml", serveOpenAPI)
	if d.Merchant != nil {
		(&merchantAPI{Merchant: *d.Merchant, refused: newRefused(d.Registry)}).routes(r)
	}
	if d.Explorer != nil {
		(&explorerAPI{*d.Explorer}).routes(r)
	}
	return r
}

// errorBody is the JSON error shape of every endpoint.
func errorBody(msg string) gin.H { return gin.H{"status": "error", "message": msg} }

func requestMetrics(reg prometheus.Registerer) gin.HandlerFunc {
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sluice_http_request_duration_seconds",
		Help:    "HTTP requests by route, method and status code.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "method", "code"})
	reg.MustRegister(dur)
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath() // the pattern, never the raw path: bounded label values
		if route == "" {
			route = "unmatched"
		}
		dur.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).Observe(time.Since(start).Seconds())
	}
}

func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		level := slog.LevelInfo
		switch c.FullPath() {
		case "/metrics", "/healthz", "/readyz":
			level = slog.LevelDebug // probes would drown the log
		}
		attrs := []any{"method", c.Request.Method, "route", c.FullPath(), "status", c.Writer.Status(),
			"duration_ms", time.Since(start).Milliseconds(), "remote", c.ClientIP()}
		if len(c.Errors) > 0 {
			level = slog.LevelError
			attrs = append(attrs, "err", c.Errors.String())
		}
		// the route pattern only: queries (litepay callback secrets) and keys are never logged
		log.Log(c.Request.Context(), level, "http", attrs...)
	}
}
