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
func workerMetrics(role, listen string, log *slog.Logger) (reg *prometheus.Registry, stop func(), err error) {
	reg = newRegistry(role, log)
	if listen == "" {
		return reg, func() { log.Info("stopped", "role", role, "version", version) }, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, nil, fmt.Errorf("--metrics-listen %s: %w", listen, err)
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return reg, func() {
		_ = srv.Close()
		log.Info("stopped", "role", role, "version", version)
	}, nil
}

// newRegistry is a process's metrics registry: Go and process collectors
// and sluice_build_info{version, commit, role} at 1, so a dashboard or an
// alert names what runs where. It logs the start with role and version.
func newRegistry(role string, log *slog.Logger) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_build_info",
		Help: "1, labelled with the running binary's version and commit and the process's role (serve, index, consume, webhooks, sweep)."},
		[]string{"version", "commit", "role"})
	info.WithLabelValues(version, commit, role).Set(1)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), info)
	log.Info("starting", "role", role, "version", version, "commit", commit)
	return reg
}
