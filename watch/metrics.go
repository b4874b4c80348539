package watch

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// alarmFactor: sluice_watch_fp_rate_alarm fires when the observed rate
// exceeds this many times the target.
const alarmFactor = 10

type metrics struct {
	candidates, hits, matches, missing prometheus.Counter
	fpRate, fpTarget, alarm            prometheus.Gauge
	addresses, bits, hashes            prometheus.Gauge
	duration                           prometheus.Observer
	all                                []prometheus.Collector
}

func newMetrics(chain string, l Layout, target float64) *metrics {
	cl := prometheus.Labels{"chain": chain}
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: cl})
	}
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: cl})
	}
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "sluice_watch_match_duration_seconds", Help: "Time of one Match call (all round trips).",
		ConstLabels: cl, Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
	m := &metrics{
		candidates: c("sluice_watch_candidates_total", "Distinct candidate addresses checked by Match."),
		hits:       c("sluice_watch_bloom_hits_total", "Candidates the bloom filter passed to the exact set."),
		matches:    c("sluice_watch_matches_total", "Candidates that are watched (in the exact set)."),
		missing:    c("sluice_watch_bloom_missing_total", "Match calls that found no bloom layout in Redis (flushed; no matches until the ledger rebuilds the set)."),
		fpRate:     g("sluice_watch_fp_rate", "Observed bloom false-positive rate, (hits - matches) / (candidates - matches), over the last FPWindow candidates."),
		fpTarget:   g("sluice_watch_fp_rate_target", "Configured bloom false-positive rate."),
		alarm:      g("sluice_watch_fp_rate_alarm", "1 when the observed false-positive rate exceeds 10 times the target (the filter is overfull: raise expected addresses and rebuild)."),
		addresses:  g("sluice_watch_addresses", "Addresses in the exact set (SCARD), as of the last operation."),
		bits:       g("sluice_watch_bloom_bits", "Size m of the bloom bitmap in bits (m/8 bytes of Redis memory)."),
		hashes:     g("sluice_watch_bloom_hashes", "Number k of bits set per address."),
		duration:   h,
	}
	m.all = []prometheus.Collector{m.candidates, m.hits, m.matches, m.missing, m.fpRate, m.fpTarget, m.alarm, m.addresses, m.bits, m.hashes, h}
	m.bits.Set(float64(l.Bits))
	m.hashes.Set(float64(l.Hashes))
	m.fpTarget.Set(target)
	return m
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for i, c := range m.all {
		if err := reg.Register(c); err != nil {
			for _, d := range m.all[:i] {
				reg.Unregister(d)
			}
			if errors.As(err, &prometheus.AlreadyRegisteredError{}) {
				return fmt.Errorf("metrics: a watch set of this chain is already registered: %w", err)
			}
			return fmt.Errorf("metrics: %w", err)
		}
	}
	return nil
}

// window counts candidates, bloom hits and true matches over about the last
// size candidates, in 64 buckets.
type window struct {
	mu      sync.Mutex
	per     int64 // candidates per bucket
	buckets [64]struct{ cand, hits, matches int64 }
	cur     int
	minNeg  int64 // negatives needed before the alarm may fire
	target  float64
	total   struct{ cand, hits, matches int64 }
}

func newWindow(size int64, target float64) *window {
	w := &window{per: max(1, size/int64(len(window{}.buckets))), target: target}
	// Enough negatives that the target rate expects >= 10 false positives, so
	// 10x the target is far beyond noise; capped at the window.
	w.minNeg = min(size, max(10_000, int64(math.Ceil(10/target))))
	return w
}

// add records one Match and returns the observed rate and the alarm.
func (w *window) add(cand, hits, matches int64) (rate float64, alarm bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total.cand += cand
	w.total.hits += hits
	w.total.matches += matches
	b := &w.buckets[w.cur]
	if b.cand >= w.per {
		w.cur = (w.cur + 1) % len(w.buckets)
		b = &w.buckets[w.cur]
		*b = struct{ cand, hits, matches int64 }{}
	}
	b.cand += cand
	b.hits += hits
	b.matches += matches
	return w.rateLocked()
}

func (w *window) rateLocked() (float64, bool) {
	var neg, fp int64
	for _, b := range w.buckets {
		neg += b.cand - b.matches
		fp += b.hits - b.matches
	}
	if neg <= 0 {
		return 0, false
	}
	r := float64(fp) / float64(neg)
	return r, neg >= w.minNeg && r > alarmFactor*w.target
}

// Stats are the counts of a Set's Match calls since Open.
type Stats struct {
	Candidates, BloomHits, Matches int64
	// FPRate is the observed false-positive rate over the sliding window.
	FPRate float64
	Alarm  bool
}

func (w *window) stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, a := w.rateLocked()
	return Stats{Candidates: w.total.cand, BloomHits: w.total.hits, Matches: w.total.matches, FPRate: r, Alarm: a}
}
