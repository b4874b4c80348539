package payments

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the payments workers.
type Metrics struct {
	Lag        *prometheus.GaugeVec   // block events not yet applied, per chain
	Events     *prometheus.CounterVec // block events applied, per chain and kind
	Deposits   *prometheus.CounterVec // deposits created, per currency
	Failed     *prometheus.CounterVec // deposits failed (double-spent, replaced, gone), per currency
	Reconciled *prometheus.CounterVec // deposits the reconciler created (the fast path missed them), per chain
}

// NewMetrics registers the payments metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_payments_stream_lag_entries",
			Help: "Block events waiting for the payments workers (lag + pending of the consumer group)."}, []string{"chain"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_payments_block_events_total",
			Help: "Block events applied to the ledger."}, []string{"chain", "kind"}),
		Deposits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_deposits_created_total",
			Help: "Deposits created, by currency."}, []string{"currency"}),
		Failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_deposits_failed_total",
			Help: "Deposits failed because their transaction is gone for good (double-spent, replaced), by currency."}, []string{"currency"}),
		Reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_reconciler_deposits_found_total",
			Help: "Deposits the reconciler found in the chain index that the fast path had missed."}, []string{"chain"}),
	}
	reg.MustRegister(m.Lag, m.Events, m.Deposits, m.Failed, m.Reconciled)
	return m
}

// Init makes a chain's counters exist at 0 before their first event, so
// alerts and rate() see them from the start; currencies are the chain's
// (its coin and, on Ethereum, the configured tokens).
func (m *Metrics) Init(chain string, currencies []string) {
	m.Reconciled.WithLabelValues(chain)
	for _, c := range currencies {
		m.Deposits.WithLabelValues(c)
		m.Failed.WithLabelValues(c)
	}
}

// depositStatuses names the deposit statuses 0, 1 and 2.
var depositStatuses = [...]string{"seen", "confirmed", "failed"}

// DepositStates is a collector of deposits by status and currency, read
// from the ledger at scrape time (a cheap grouped count).
type DepositStates struct {
	DB *pgxpool.Pool
	// Currencies are reported at 0 in every status they have no deposit in,
	// so a fresh ledger's panels show 0 rather than nothing.
	Currencies []string
	desc       *prometheus.Desc
}

// NewDepositStates returns the collector; currencies are those the process
// serves (see DepositStates.Currencies).
func NewDepositStates(db *pgxpool.Pool, currencies []string) *DepositStates {
	return &DepositStates{DB: db, Currencies: currencies, desc: prometheus.NewDesc("sluice_deposits",
		"Deposits in the ledger by status (seen, confirmed, failed) and currency.", []string{"status", "currency"}, nil)}
}

// Describe implements prometheus.Collector.
func (d *DepositStates) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

// Collect implements prometheus.Collector.
func (d *DepositStates) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := d.DB.Query(ctx, "SELECT status, currency, count(*) FROM deposits GROUP BY status, currency")
	if err != nil {
		ch <- prometheus.NewInvalidMetric(d.desc, err)
		return
	}
	defer rows.Close()
	counts := map[[2]string]int64{}
	for rows.Next() {
		var status int
		var currency string
		var n int64
		if err := rows.Scan(&status, &currency, &n); err != nil {
			ch <- prometheus.NewInvalidMetric(d.desc, err)
			return
		}
		if status < 0 || status >= len(depositStatuses) {
			ch <- prometheus.NewInvalidMetric(d.desc, fmt.Errorf("ledger: %d deposits of %s in unknown status %d", n, currency, status))
			return
		}
		counts[[2]string{depositStatuses[status], currency}] = n
	}
	if err := rows.Err(); err != nil {
		ch <- prometheus.NewInvalidMetric(d.desc, err)
		return
	}
	for _, c := range d.Currencies {
		for _, s := range depositStatuses {
			if _, ok := counts[[2]string{s, c}]; !ok {
				counts[[2]string{s, c}] = 0
			}
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(d.desc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}
