package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/payments/webhook"
	"github.com/sluicepay/sluice/stores"
)

func newWebhooksCmd() *cobra.Command {
	var metricsListen string
	cmd := &cobra.Command{
		Use:   "webhooks",
		Short: "Deliver deposit webhooks to merchants from the outbox (iqpay JSON, litepay callbacks)",
		Long: `Delivers the ledger's deposit events to merchants until stopped ("sluice serve" runs
this too). Every event becomes a delivery in PostgreSQL first, so nothing is lost to a
crash or kill -9: a delivery may repeat, never vanish, and carries its event id.

  iqpay     the merchant's endpoint per event kind (created, confirmations, confirmed,
            failed), with its method: POST/PUT send the JSON body, GET/DELETE the same
            fields as query parameters. Only HTTP 200 acknowledges; otherwise retried
            with exponential backoff (jittered, at most 1h apart) for webhooks.max_age
            (72h), then marked failed (visible in the delivery log; redeliver via the API).
  litepay   receive addresses with callback_req=1: a GET to the callback URL with value,
            input_address, transaction_hash, destination_address, coin, confirmations;
            resent at every new block until the body says *ok*, up to 100 confirmations.

Events of one deposit arrive in order; a slow or failing endpoint holds up only its own
deposits, never other merchants'. Each request is signed (X-Sluice-Signature, HMAC-SHA256
with the merchant's webhook secret; see docs/webhooks.md). Targets on loopback, private,
link-local, CGNAT or ULA addresses are refused unless webhooks.allow_private_targets
allows them. Settings: webhooks.workers (concurrent requests), webhooks.timeout (per
request), webhooks.max_age. Any number of these processes may share one ledger.`,
		Example: `  eval "$(sluice stack env)" && sluice webhooks
  SLUICE_WEBHOOKS_WORKERS=16 sluice webhooks --config /etc/sluice/sluice.yaml
  sluice webhooks --metrics-listen 127.0.0.1:9103`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfigAndLogger(cmd)
			if err != nil {
				return err
			}
			reg, stop, err := workerMetrics(metricsListen, log)
			if err != nil {
				return err
			}
			defer stop()
			return runWebhooks(cmd.Context(), cfg, reg, log)
		},
	}
	addMetricsFlag(cmd, &metricsListen, "127.0.0.1:9103")
	return cmd
}

// runWebhooks runs webhook delivery until ctx ends.
func runWebhooks(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) error {
	allow, err := webhook.ParseAllow(cfg.Webhooks.AllowPrivateTargets)
	if err != nil {
		return cfg.Errorf("webhooks.allow_private_targets", "%w", err)
	}
	pg, err := stores.OpenPostgres(ctx, cfg.Postgres.DSN)
	if err != nil {
		return err
	}
	defer pg.Close()
	convert, stopRates, err := startRates(ctx, cfg, pg, reg, log) // fiat conversion, rates fixed per deposit
	if err != nil {
		return err
	}
	defer stopRates()
	return webhook.Run(ctx, webhook.Deps{DB: pg, Log: log.With("worker", "webhooks"), Metrics: webhook.NewMetrics(reg),
		Allow: allow, Workers: cfg.Webhooks.Workers, Timeout: cfg.Webhooks.Timeout, MaxAge: cfg.Webhooks.MaxAge,
		Convert: convert})
}
