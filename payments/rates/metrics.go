package rates

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/internal/promreg"
)

// Results of asking a source for one pair, the result label of
// sluice_rate_fetch_total.
const (
	ResultOK          = "ok"           // priced
	ResultError       = "error"        // the request failed, or the answer had no usable price for the pair
	ResultRateLimited = "rate_limited" // not asked: the source answered 429 and is left alone for a while
)

// Metrics of the fiat rates.
type Metrics struct {
	// Fetches counts, per source and result, the pairs a source was asked for.
	Fetches *prometheus.CounterVec
	// Age is the age of the cached price of each pair (+Inf when none is
	// cached): above rates.max_age, conversions and the litepay minimum wait.
	Age *prometheus.GaugeVec
	// MaxAge is rates.max_age, so an alert compares Age with the
	// configured limit rather than a copy of it.
	MaxAge prometheus.Gauge
}

// NewMetrics registers the rate metrics with reg. A second call with the
// same registry returns the collectors already there, so two Services in one
// process can share them.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Fetches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_rate_fetch_total",
			Help: "Fiat prices asked of each source, per pair, by source (coingecko, kraken, coinbase) and result (ok, error, rate_limited)."},
			[]string{"source", "result"}),
		Age: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_rate_age_seconds",
			Help: "Age of the cached fiat price of each currency in each fiat currency (+Inf when none is cached). A price older than rates.max_age is never used."},
			[]string{"currency", "fiat"}),
		MaxAge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_rate_max_age_seconds",
			Help: "rates.max_age: a cached fiat price older than this is never used (conversions send 0, litepay forwarding waits)."}),
	}
	m.Fetches = promreg.Register(reg, m.Fetches)
	m.Age = promreg.Register(reg, m.Age)
	m.MaxAge = promreg.Register(reg, m.MaxAge)
	return m
}
