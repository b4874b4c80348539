package indexer

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Triggers only wake the follower; it then asks the node what changed. So a
// lost notification costs latency, never data, and the follower's own poll
// covers a feed that goes silent.

// Reconnect runs connect until ctx ends, logging each drop once and
// backing off up to 30 s.
func Reconnect(ctx context.Context, log *slog.Logger, what, where string, connect func() error) error {
	backoff := time.Second
	for {
		start := time.Now()
		err := connect()
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > time.Minute {
			backoff = time.Second // it was up for a while: retry soon
		}
		log.Warn(what+" lost; the poll keeps the index moving meanwhile", "endpoint", where, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// NewRPCLatency is the node RPC latency histogram shared by every chain's client.
func NewRPCLatency(reg prometheus.Registerer) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sluice_node_rpc_duration_seconds",
		Help:    "Node JSON-RPC calls by chain, method and result.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"chain", "method", "result"})
	if reg != nil {
		reg.MustRegister(h)
	}
	return h
}
