package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/health"
	"github.com/sluicepay/sluice/stores"
)

// addMetricsFlag adds --metrics-listen to a worker command; example is a
// loopback address for its help.
func addMetricsFlag(cmd *cobra.Command, listen *string, example string) {
	cmd.Flags().StringVar(listen, "metrics-listen", "", "serve /metrics (Prometheus), /healthz and /readyz (the stores and nodes this worker needs) on this address (e.g. "+example+"); default off")
}

// workerMetrics returns a registry with the Go and process collectors and,
// when listen is set, serves on it until stop is called what the
// standalone workers (index, consume, webhooks, sweep) share: /metrics,
// /healthz (the process answers) and /readyz (the dependencies the worker
// needs answer: 503 and which one failed otherwise). The checks also keep
// sluice_dependency_up current, so SluiceDependencyDown names the worker.
func workerMetrics(role, listen string, log *slog.Logger, checks []health.Check) (reg *prometheus.Registry, stop func(), err error) {
	reg = newRegistry(role, log)
	checker := health.New(reg, 3*time.Second, checks...)
	ctx, cancel := context.WithCancel(context.Background())
	go checker.Loop(ctx, 15*time.Second)
	if listen == "" {
		return reg, func() { cancel(); log.Info("stopped", "role", role, "version", version) }, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("--metrics-listen %s: %w", listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "role": role})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		results, ok := checker.Run(r.Context())
		status, code := "ok", http.StatusOK
		if !ok {
			status, code = "unavailable", http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"status": status, "role": role, "dependencies": results})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("metrics", "url", "http://"+ln.Addr().String()+"/metrics", "ready", "http://"+ln.Addr().String()+"/readyz")
	return reg, func() {
		cancel()
		_ = srv.Close()
		log.Info("stopped", "role", role, "version", version)
	}, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// workerChecks are the health checks of what a worker uses: the stores it
// names and the nodes of its chains (every configured chain when chains is
// empty).
func workerChecks(ctx context.Context, cfg *config.Config, chains []string, storeNames ...string) ([]health.Check, error) {
	checks, err := storeChecks(ctx, cfg, storeNames...)
	if err != nil {
		return nil, err
	}
	nodes, err := nodeChecks(cfg, chains)
	if err != nil {
		return nil, err
	}
	return append(checks, nodes...), nil
}

// storeChecks are the health checks of the named stores, each on its own
// lazily opened handle, so it sees what a new connection would.
func storeChecks(ctx context.Context, cfg *config.Config, storeNames ...string) ([]health.Check, error) {
	var checks []health.Check
	for _, s := range storeNames {
		switch s {
		case "clickhouse":
			ch, err := stores.OpenClickHouse(cfg.ClickHouse.DSN)
			if err != nil {
				return nil, err
			}
			checks = append(checks, health.ClickHouse(ch))
		case "postgres":
			pg, err := stores.OpenPostgres(ctx, cfg.Postgres.DSN)
			if err != nil {
				return nil, err
			}
			checks = append(checks, health.Postgres(pg))
		case "redis":
			rd, err := stores.OpenRedis(cfg.Redis.URL)
			if err != nil {
				return nil, err
			}
			checks = append(checks, health.Redis(rd))
		}
	}
	return checks, nil
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
