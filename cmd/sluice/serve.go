package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/api"
	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/health"
	"github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/stores"
)

func newServeCmd() *cobra.Command {
	var index bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP server (merchant API, /healthz, /readyz, /metrics) and the workers",
		Long: `Runs the HTTP server on api.listen (default 127.0.0.1:27080):

  GET /healthz   200 while the process is alive
  GET /readyz    JSON with one entry per dependency (clickhouse, postgres, redis, and
                 btc/ltc/eth when configured), each with its error if down; 503 when any is
  GET /metrics   Prometheus metrics (Go runtime, process, dependency checks, HTTP)

The merchant API (API key in the Authorization header; docs/api.md):

  GET  /currencies                          the enabled currencies
  POST /wallet/create/:currency {"extId"}   a customer's deposit address (iqpay), the same forever
  GET  /wallet/:address                     a wallet and its deposits
  GET  /deposits?currency=&extId=&status=&cursor=&limit=
  GET  /webhooks/deliveries                 the webhook delivery log
  POST /webhooks/deliveries/:id/redeliver
  GET  /settlement/:currency, PUT /settlement/:currency   where and when deposits are swept
  POST /withdrawal/create/:currency {"address","amount","extId"}, GET /withdrawal/:id
  GET  /api/receive?method=btc|ltc&address=DEST&callback=URL&callback_req=0|1   (litepay)

The explorer API (no key; canonical chain only; docs/explorer.md), chain btc, ltc or eth:

  GET /v1/:chain/block/:height-or-hash      GET /v1/:chain/tx/:txid
  GET /v1/:chain/address/:addr/txs?cursor=&limit=   GET /v1/:chain/address/:addr/balance
  GET /v1/:chain/address/:addr/transfers    GET /v1/:chain/token/:contract/transfers   (eth)
  GET  /openapi.yaml                        the OpenAPI 3.1 description of all of it

Dependencies may be down at start; /readyz says so until they answer. New wallets wait
for a gap scan at start that moves every address counter past the addresses the chain
index shows as used (see "sluice wallets rescan --help"); no address with history is
ever handed out.
Per source IP, keyless receive calls and failed authentications are limited
(api.unauthenticated_limit, api.failed_auth_limit: 429 past them), and slow
clients are cut off (api.read_header_timeout, api.read_timeout,
api.write_timeout, api.idle_timeout); see docs/api.md.
SIGTERM or Ctrl-C drains requests for up to api.shutdown_timeout, then exits.

Unless --index=false, it also runs in the same process the indexer and the payments
workers of every configured chain (btc, ltc, eth), webhook delivery, and with
sweeps.enabled the sweepers (see "sluice index --help", "sluice webhooks --help" and
"sluice sweep --help"); run "sluice migrate" first.`,
		Example: `  eval "$(sluice stack env)" && sluice serve
  sluice serve --config /etc/sluice/sluice.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfigAndLogger(cmd)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cmd, cfg, log, index)
		},
	}
	cmd.Flags().BoolVar(&index, "index", true, "also run the indexers of the configured chains in this process")
	return cmd
}

func serve(ctx context.Context, cmd *cobra.Command, cfg *config.Config, log *slog.Logger, index bool) error {
	gin.SetMode(gin.ReleaseMode)

	reg := newRegistry("serve", log)
	defer log.Info("stopped", "role", "serve", "version", version)

	st, err := openStores(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := pinCurrencies(ctx, cfg, st.PG); err != nil {
		return err
	}
	checks, err := dependencyChecks(cfg, st)
	if err != nil {
		return err
	}
	merchants, closeMerchants, err := merchantAPI(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	defer closeMerchants()
	freshAddresses(ctx, reg, st, merchants.Ledger, log)
	checker := health.New(reg, 3*time.Second, checks...)

	ln, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("api.listen %s is already in use by another program: stop it or set api.listen (SLUICE_API_LISTEN) to a free port", cfg.API.Listen)
		}
		return fmt.Errorf("api.listen %s: %w", cfg.API.Listen, err)
	}
	srv := api.NewServer(api.New(api.Deps{Log: log, Ready: checker, Registry: reg, Merchant: merchants,
		Explorer: explorerDeps(cfg, st, log), TrustedProxies: cfg.API.TrustedProxies}),
		api.Timeouts{ReadHeader: cfg.API.ReadHeaderTimeout, Read: cfg.API.ReadTimeout, Write: cfg.API.WriteTimeout,
			Idle: cfg.API.IdleTimeout, MaxHeaderBytes: cfg.API.MaxHeaderBytes})
	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	go checker.Loop(loopCtx, 15*time.Second)

	if chains, _ := chain.New(cfg); index && len(chains.Chains()) > 0 {
		go func() {
			// An indexer that stops for good (a reorg too deep) leaves the API up;
			// sluice_index_up and the log say so.
			if err := runIndexers(loopCtx, cfg, reg, log, nil, 0); err != nil && loopCtx.Err() == nil {
				log.Error("indexing stopped", "err", err)
			}
		}()
		go func() {
			if err := runConsumers(loopCtx, cfg, reg, log, nil); err != nil && loopCtx.Err() == nil {
				log.Error("payments workers stopped", "err", err)
			}
		}()
		if cfg.Sweeps.Enabled {
			go func() {
				if err := runSweepers(loopCtx, cfg, reg, log, nil); err != nil && loopCtx.Err() == nil {
					log.Error("sweeping stopped", "err", err)
				}
			}()
		}
		go func() {
			if err := runWebhooks(loopCtx, cfg, reg, log); err != nil && loopCtx.Err() == nil {
				log.Error("webhook delivery stopped", "err", err)
			}
		}()
	}

	url := "http://" + ln.Addr().String()
	fmt.Fprintf(cmd.OutOrStdout(), "sluice API listening on %s\n", url)
	log.Info("serving", "url", url, "version", version)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.API.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.API.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// dependencyChecks opens (lazily) every store and node the config names.
func dependencyChecks(cfg *config.Config, st *stores.Set) ([]health.Check, error) {
	checks := []health.Check{health.ClickHouse(st.CH), health.Postgres(st.PG), health.Redis(st.Redis)}
	nodes, err := nodeChecks(cfg, nil)
	if err != nil {
		return nil, err
	}
	return append(checks, nodes...), nil
}

// nodeChecks are the health checks of the nodes of chains (every
// configured chain when chains is empty).
func nodeChecks(cfg *config.Config, chains []string) ([]health.Check, error) {
	run, _, err := chainsToRun(cfg, chains)
	if err != nil {
		return nil, nil // no chain configured: nothing to check
	}
	var checks []health.Check
	for _, c := range run {
		switch c.Family {
		case chain.Bitcoin:
			b := cfg.Chains.BitcoinChain(c.Key)
			node, err := bitcoin.NewNode(c.Key, b.RPC, nil)
			if err != nil {
				return nil, err
			}
			checks = append(checks, health.BitcoinNode(c.Key, node, b.Network))
		case chain.EVM:
			e := cfg.Chains.EVMChain(c.Key)
			url := e.RPC
			if url == "" {
				url = e.WS
			}
			checks = append(checks, health.EthereumNode(c.Key, url, e.Network, e.ChainID))
		}
	}
	return checks, nil
}
