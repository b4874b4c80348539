package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/chain"
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
            input_address, transaction_hash, destination_address, coin, confirmations, event_id;
            resent at every new block until the body says *ok*, up to 100 confirmations.

Events of one deposit arrive in order; a slow or failing endpoint holds up only its own
deposits, never other merchants'. Each request is signed for its purpose (X-Sluice-Signature
v2=, HMAC-SHA256 with the merchant's webhook secret over the flavour, event kind and id,
method, URL and payload; see docs/webhooks.md and "sluice webhooks verify"). URLs whose own
query uses a parameter sluice adds are refused, at registration and at delivery. Targets on loopback, private,
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
			checks, err := storeChecks(cmd.Context(), cfg, "postgres")
			if err != nil {
				return err
			}
			reg, stop, err := workerMetrics("webhooks", metricsListen, log, checks)
			if err != nil {
				return err
			}
			defer stop()
			return runWebhooks(cmd.Context(), cfg, reg, log)
		},
	}
	addMetricsFlag(cmd, &metricsListen, "127.0.0.1:9103")
	cmd.AddCommand(newWebhooksVerifyCmd())
	cmd.AddCommand(newWebhooksDeliveriesCmd(), newWebhooksRedeliverCmd())
	return cmd
}

func newWebhooksVerifyCmd() *cobra.Command {
	var secretFile, method, rawURL, headersFile, bodyFile string
	var flavours, kinds, headers []string
	var tolerance time.Duration
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that a webhook or litepay callback a receiver got was signed by sluice, for this endpoint",
		Long: `Checks one captured request against the merchant's webhook secret, the way a receiver
must (docs/webhooks.md): the v2 signature in X-Sluice-Signature covers the timestamp, the
flavour, the event kind and id, the method, the URL without its query, and the payload
(the body of a POST or PUT, the raw query string of a GET or DELETE).

--flavour is what this endpoint is registered for in sluice, from your configuration, not
from the request's X-Sluice-Flavour header: iqpay for a deposit endpoint, withdrawal for
the withdrawal endpoint (one --webhook-url serves both: --flavour iqpay,withdrawal),
litepay for a receive address's callback URL. A litepay callback does not verify as iqpay,
nor a request signed for another URL, method, event or kind.

--url is the URL as received, query included: its scheme, host and path must be the
endpoint's URL as registered in sluice (behind a proxy, write that one, not the
internal address); for GET and DELETE its query is what was signed.

Prints the flavour, kind and event id and exits 0 when the request is authentic; exits 1
with the reason when it is not (v1 signatures, which could be forged across flavours, are
no longer accepted), 2 when it cannot be checked (a missing file, a malformed header).`,
		Example: `  # a litepay callback the receiver logged (docs/webhooks.md's example; the secret is whsec_7f3a9c)
  echo whsec_7f3a9c > merchant.secret
  sluice webhooks verify --secret-file merchant.secret --flavour litepay --method GET --tolerance 0 \
      --url 'https://shop.example/callback.php?id=123&secret=abc&value=150000&input_address=bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu&transaction_hash=04fbaac8265b52cc51df73dac4a974de41c25c2acb79f2c1b639baa9ee52429b&destination_address=bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq&coin=BTC&confirmations=1&event_id=41' \
      --header 'X-Sluice-Timestamp: 1700000000' --header 'X-Sluice-Event-Id: 41' --header 'X-Sluice-Event-Kind: payment' \
      --header 'X-Sluice-Signature: v2=f3dd8a19f138c35b6c680707902ff2dc32fc0da735354d45bc3ffcb8fda961fd'
  # → authentic: flavour litepay, kind payment, event 41, …; the same with --flavour iqpay → NOT authentic, exit 1

  # an iqpay POST whose headers and body the receiver saved
  sluice webhooks verify --secret-file merchant.secret --flavour iqpay,withdrawal --method POST \
      --url https://shop.example/hooks/iqpay --headers-file req.headers --body-file req.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			usage := func(err error) error { return &exitError{2, err} }
			if secretFile == "" || rawURL == "" || method == "" || len(flavours) == 0 {
				return usage(errors.New("--secret-file, --flavour, --method and --url are required"))
			}
			secret, err := os.ReadFile(secretFile)
			if err != nil {
				return usage(fmt.Errorf("read the secret: %w", err))
			}
			h := http.Header{}
			if headersFile != "" {
				f, err := os.Open(headersFile)
				if err != nil {
					return usage(fmt.Errorf("read the headers: %w", err))
				}
				h, err = webhook.ParseHeaderLines(f)
				f.Close()
				if err != nil {
					return usage(fmt.Errorf("%s: %w", headersFile, err))
				}
			}
			given := http.Header{} // --header replaces the file's header of the same name
			for _, line := range headers {
				if err := webhook.AddHeaderLine(given, line); err != nil {
					return usage(fmt.Errorf("--header: %w", err))
				}
			}
			for name, values := range given {
				h[name] = values
			}
			var body []byte
			switch bodyFile {
			case "":
			case "-":
				body, err = io.ReadAll(cmd.InOrStdin())
			default:
				body, err = os.ReadFile(bodyFile)
			}
			if err != nil {
				return usage(fmt.Errorf("read the body: %w", err))
			}
			if tolerance == 0 {
				tolerance = -1 // 0: do not check the timestamp
			}
			v, err := webhook.VerifyCaptured(strings.TrimSpace(string(secret)), webhook.Expect{Flavours: flavours, Kinds: kinds,
				Method: method, URL: rawURL, Tolerance: tolerance}, h, body)
			switch {
			case errors.Is(err, webhook.ErrSignature) || errors.Is(err, webhook.ErrTimestamp) || errors.Is(err, webhook.ErrKind):
				return &exitError{1, fmt.Errorf("NOT authentic: %w", err)}
			case err != nil:
				return usage(err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "authentic: flavour %s, kind %s, event %d, signed %s (%s ago)\n",
				v.Flavour, v.Kind, v.EventID, v.Timestamp.UTC().Format(time.RFC3339), time.Since(v.Timestamp).Round(time.Second))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&secretFile, "secret-file", "", "file holding the merchant's webhook secret (surrounding whitespace ignored)")
	f.StringSliceVar(&flavours, "flavour", nil, "what this endpoint is registered for: iqpay, withdrawal, litepay (comma-separated or repeated)")
	f.StringSliceVar(&kinds, "kind", nil, "event kinds this endpoint takes, e.g. confirmed (default: any of the flavours')")
	f.StringVar(&method, "method", "", "the request's method: GET, POST, PUT or DELETE")
	f.StringVar(&rawURL, "url", "", "the URL as received, with its query; scheme, host and path as registered in sluice")
	f.StringArrayVar(&headers, "header", nil, "a header as received, 'Name: value' (repeatable; replaces the --headers-file one of that name)")
	f.StringVar(&headersFile, "headers-file", "", "a file of headers as received, one 'Name: value' a line")
	f.StringVar(&bodyFile, "body-file", "", "the exact body of a POST or PUT (- reads standard input)")
	f.DurationVar(&tolerance, "tolerance", webhook.DefaultTolerance, "how far the timestamp may be from now; 0 does not check it (a request captured earlier)")
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
	key, err := webhookSecrets(ctx, cfg, pg, log)
	if err != nil {
		return err
	}
	convert, stopRates, err := startRates(ctx, cfg, pg, reg, log) // fiat conversion, rates fixed per deposit
	if err != nil {
		return err
	}
	defer stopRates()
	chains, _ := chain.New(cfg) // config.Load refused a configuration it cannot build
	return webhook.Run(ctx, webhook.Deps{DB: pg, Chains: chains, Log: log.With("worker", "webhooks"), Metrics: webhook.NewMetrics(reg),
		Allow: allow, Workers: cfg.Webhooks.Workers, Timeout: cfg.Webhooks.Timeout, MaxAge: cfg.Webhooks.MaxAge,
		Convert: convert, BlockDeadAfter: cfg.Receive.BlockDeadAfter, Secrets: key})
}
