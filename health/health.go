package health

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Check is one dependency and how to see that it answers.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Result is the outcome of one check.
type Result struct {
	OK        bool    `json:"ok"`
	Error     string  `json:"error,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
}

// Checker runs checks and keeps the dependency metrics current.
type Checker struct {
	checks  []Check
	timeout time.Duration
	up      *prometheus.GaugeVec
	latency *prometheus.GaugeVec
}

// New returns a Checker whose metrics are registered with reg.
func New(reg prometheus.Registerer, timeout time.Duration, checks ...Check) *Checker {
	c := &Checker{
		checks:  checks,
		timeout: timeout,
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_dependency_up",
			Help: "1 if the dependency answered its last health check, else 0.",
		}, []string{"dependency"}),
		latency: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_dependency_check_duration_seconds",
			Help: "How long the last health check of the dependency took.",
		}, []string{"dependency"}),
	}
	reg.MustRegister(c.up, c.latency)
	return c
}

// Run checks every dependency at once and reports whether all answered.
func (c *Checker) Run(ctx context.Context) (map[string]Result, bool) {
	results := make(map[string]Result, len(c.checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ch := range c.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, c.timeout)
			defer cancel()
			start := time.Now()
			err := ch.Run(cctx)
			d := time.Since(start)
			r := Result{OK: err == nil, LatencyMS: float64(d.Microseconds()) / 1000}
			up := 1.0
			if err != nil {
				r.Error, up = err.Error(), 0
			}
			c.up.WithLabelValues(ch.Name).Set(up)
			c.latency.WithLabelValues(ch.Name).Set(d.Seconds())
			mu.Lock()
			results[ch.Name] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	ok := true
	for _, r := range results {
		ok = ok && r.OK
	}
	return results, ok
}

// Loop runs the checks every interval until ctx ends, so the metrics stay
// current without anyone calling /readyz.
func (c *Checker) Loop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		c.Run(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
