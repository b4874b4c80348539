package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/indexer/ethereum"
	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/stores"
)

func newConsumeCmd() *cobra.Command {
	var chains []string
	var metricsListen string
	cmd := &cobra.Command{
		Use:   "consume",
		Short: "Turn block events into deposits in the ledger (the payments workers)",
		Long: `Reads each chain's block events (the Redis Stream blocks:<chain>, consumer group
"payments") and applies them to the ledger: a payment to a wallet creates its deposit,
every block moves confirmations until the deposit is confirmed (BTC 2, LTC 6, ETH 12,
USDT 12 unless the merchant set its own), a block removed by a reorg returns its
deposits to unconfirmed, and one whose transaction was double-spent or replaced
fails once the conflicting transaction is as deep as the deposit needed to be
(or after 100 blocks without coming back). Each change and its outbox event commit together; the stream
entry is acknowledged after the commit, so kill -9 at any point replays it and the
replay changes nothing. "sluice serve" runs these workers too.`,
		Example: `  eval "$(sluice stack env)" && sluice consume --chain btc,ltc,eth
  sluice consume --metrics-listen 127.0.0.1:9102`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfigAndLogger(cmd)
			if err != nil {
				return err
			}
			checks, err := workerChecks(cmd.Context(), cfg, chains, "postgres", "redis")
			if err != nil {
				return err
			}
			reg, stop, err := workerMetrics("consume", metricsListen, log, checks)
			if err != nil {
				return err
			}
			defer stop()
			return runConsumers(cmd.Context(), cfg, reg, log, chains)
		},
	}
	cmd.Flags().StringSliceVar(&chains, "chain", nil, "chains to consume (btc, ltc, eth); default every configured chain")
	addMetricsFlag(cmd, &metricsListen, "127.0.0.1:9102")
	return cmd
}

// runConsumers runs one payments consumer per chain until ctx ends.
func runConsumers(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, chains []string) error {
	run, registry, err := chainsToRun(cfg, chains)
	if err != nil {
		return err
	}
	st, err := openStores(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := pinCurrencies(ctx, cfg, st.PG); err != nil {
		return err
	}
	host, _ := os.Hostname()
	ledger := &payments.Ledger{DB: st.PG, Chains: registry}
	metrics := payments.NewMetrics(reg)
	chainCurrencies := map[string][]string{} // the chain's coin and its configured tokens
	var all []string
	chains = chainKeys(run)
	for _, c := range chains {
		for _, cur := range registry.OnChain(c) {
			chainCurrencies[c] = append(chainCurrencies[c], cur.Code)
		}
		all = append(all, chainCurrencies[c]...)
	}
	reg.MustRegister(payments.NewDepositStates(st.PG, all))
	var wg sync.WaitGroup
	errs := make([]error, len(chains))
	for i, c := range chains {
		currencies := chainCurrencies[c]
		metrics.Init(c, currencies)
		conflicts, closeNode, err := conflictFinder(ctx, cfg, st, c)
		if err != nil {
			return err
		}
		defer closeNode()
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The name is stable across restarts, so a restarted worker takes back
			// what it read but never acknowledged before it died.
			cons := &payments.Consumer{Ledger: ledger, Redis: st.Redis, Chain: c, Name: host,
				Log: log.With("chain", c, "worker", "payments"), Metrics: metrics, Conflicts: conflicts,
				ReceiveConfirmations: cfg.Receive.Confirmations}
			log.Info("consuming block events", "chain", c)
			go reconcileLoop(ctx, cons, st, registry.Tokens(c), metrics, log)
			go expiredLoop(ctx, cons, st, registry.Tokens(c), cfg.Receive.ExpiredScan, metrics, log)
			errs[i] = cons.Run(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// conflictFinder is how the chain's workers recognise a double-spent or
// replaced deposit: the index's inputs (Bitcoin family), the node's nonces
// (Ethereum).
func conflictFinder(ctx context.Context, cfg *config.Config, st *stores.Set, chain string) (payments.ConflictFinder, func(), error) {
	e := cfg.Chains.EVMChain(chain)
	if e == nil {
		return payments.IndexConflicts{CH: st.CH, Chain: chain}, func() {}, nil
	}
	url := e.RPC
	if url == "" {
		url = e.WS
	}
	if url == "" {
		return nil, func() {}, nil
	}
	node, err := ethereum.Dial(ctx, chain, url, nil)
	if err != nil {
		return nil, nil, err
	}
	return payments.NonceConflicts{NonceAt: node.NonceAt}, node.Close, nil
}

// reconcileEvery is how often the workers look in the chain index for
// deposits the fast path missed, over the last reconcileDepth blocks.
const (
	reconcileEvery = 5 * time.Minute
	reconcileDepth = 2000
)

// reconcileLoop runs the reconciler every reconcileEvery over the last
// reconcileDepth blocks for every wallet; a deposit it finds is one the fast
// path (watch set → block event) missed.
func reconcileLoop(ctx context.Context, cons *payments.Consumer, st *stores.Set, tokens map[string]string,
	metrics *payments.Metrics, log *slog.Logger) {
	reconcileTicker(ctx, cons, st, reconcileEvery, metrics, log, "the reconciler found deposits the fast path missed",
		func(ctx context.Context, from int64) (int, error) {
			return payments.Reconcile(ctx, cons, st.CH, tokens, from)
		})
}

// expiredLoop looks for late payments to expired receive addresses (out of
// the watch set) every interval, over the same recent blocks as the
// reconciler: they are credited, confirmed and forwarded like any other.
func expiredLoop(ctx context.Context, cons *payments.Consumer, st *stores.Set, tokens map[string]string, every time.Duration,
	metrics *payments.Metrics, log *slog.Logger) {
	reconcileTicker(ctx, cons, st, every, metrics, log, "late payments to expired receive addresses found",
		func(ctx context.Context, from int64) (int, error) {
			addrs, err := cons.Ledger.ExpiredAddresses(ctx, cons.Chain)
			if err != nil {
				return 0, err
			}
			return payments.ReconcileAddresses(ctx, cons, st.CH, tokens, from, addrs)
		})
}

// reconcileTicker runs scan every interval from reconcileDepth below the
// index's tip, counting and logging (as found) what it creates.
func reconcileTicker(ctx context.Context, cons *payments.Consumer, st *stores.Set, every time.Duration, metrics *payments.Metrics,
	log *slog.Logger, found string, scan func(ctx context.Context, from int64) (int, error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		from := int64(0)
		if tip, err := store.Tip(ctx, st.CH, cons.Chain); err == nil {
			from = max(0, tip-reconcileDepth)
		}
		n, err := scan(ctx, from)
		if err != nil {
			log.Warn("reconcile failed; next round in a while", "chain", cons.Chain, "err", err)
			continue
		}
		if n > 0 {
			metrics.Reconciled.WithLabelValues(cons.Chain).Add(float64(n))
			log.Warn(found, "chain", cons.Chain, "count", n)
		}
	}
}
