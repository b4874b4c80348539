package webhook

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a delivery attempt, the result label of
// sluice_webhook_deliveries_total.
const (
	ResultDelivered = "delivered" // acknowledged (HTTP 200; litepay: *ok*)
	ResultRetry     = "retry"     // not acknowledged; tried again later (litepay: at the next block)
	ResultFailed    = "failed"    // given up: too old (iqpay), past 100 confirmations or deposit failed (litepay)
	ResultRefused   = "refused"   // not sent: the target address is not public and not allowed
)

// Metrics of webhook delivery.
type Metrics struct {
	Deliveries *prometheus.CounterVec   // attempts by flavour, merchant and result
	Backlog    prometheus.Gauge         // pending deliveries + events not yet fanned out
	Oldest     prometheus.Gauge         // age of the oldest work waiting on sluice itself
	Duration   *prometheus.HistogramVec // request duration by flavour

	mu        sync.Mutex
	merchants map[int64]bool // whose series exist
}

// NewMetrics registers the webhook metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_webhook_deliveries_total",
			Help: "Webhook delivery attempts by flavour (iqpay, litepay, withdrawal), merchant (its id) and result (delivered, retry, failed, refused). " +
				"One series per merchant, flavour and result: 12 per merchant, so the count grows with the number of merchants; sum by (flavour, result) for the whole."},
			[]string{"flavour", "merchant", "result"}),
		Backlog: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_webhook_outbox_backlog",
			Help: "Webhook deliveries pending (including those waiting to be retried) plus deposit events not yet turned into deliveries."}),
		Oldest: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_webhook_outbox_oldest_seconds",
			Help: "Age of the oldest work waiting on sluice: an event not yet fanned out, or a delivery due and not blocked by an earlier one that is still overdue. Deliveries waiting for a retry or for a new block do not count: a receiver that is down does not raise it."}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_webhook_delivery_duration_seconds",
			Help:    "Duration of webhook HTTP requests, by flavour.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"flavour"}),
	}
	reg.MustRegister(m.Deliveries, m.Backlog, m.Oldest, m.Duration)
	m.merchants = map[int64]bool{}
	// present at 0 from the start, so rate(), alerts and panels see them
	for _, f := range flavours {
		m.Duration.WithLabelValues(f) // created, not observed: count 0
	}
	return m
}

var (
	flavours = []string{FlavourIqpay, FlavourLitepay, FlavourWithdrawal}
	results  = []string{ResultDelivered, ResultRetry, ResultFailed, ResultRefused}
)

// addMerchant creates a merchant's delivery series at 0 (once), so that
// rate() sees its first attempts: the outbox loop adds every merchant of
// the ledger, delivery any it has not seen yet.
func (m *Metrics) addMerchant(id int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.merchants[id] {
		return
	}
	m.merchants[id] = true
	label := strconv.FormatInt(id, 10)
	for _, f := range flavours {
		for _, r := range results {
			m.Deliveries.WithLabelValues(f, label, r)
		}
	}
}

// delivered counts one attempt's result.
func (m *Metrics) delivered(flavour string, merchantID int64, result string) {
	m.addMerchant(merchantID)
	m.Deliveries.WithLabelValues(flavour, strconv.FormatInt(merchantID, 10), result).Inc()
}
