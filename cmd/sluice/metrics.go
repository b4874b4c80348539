package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
)

// addMetricsFlag adds --metrics-listen to a worker command; example is a
// loopback address for its help.
func addMetricsFlag(cmd *cobra.Command, listen *string, example string) {
	cmd.Flags().StringVar(listen, "metrics-listen", "", "serve Prometheus metrics on this address (e.g. "+example+"); default off")
}

// workerMetrics returns a registry with the Go and process collectors and,
// when listen is set, serves it at http://listen/metrics until stop is
// called: what the standalone workers (index, consume, webhooks, sweep) share.
func workerMetrics(listen string, log *slog.Logger) (reg *prometheus.Registry, stop func(), err error) {
	reg = prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if listen == "" {
		return reg, func() {}, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, nil, fmt.Errorf("--metrics-listen %s: %w", listen, err)
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return reg, func() { _ = srv.Close() }, nil
}
