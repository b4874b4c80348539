package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	chainreg "github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/explorer"
	"github.com/sluicepay/sluice/indexer"
	"github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/indexer/ethereum"
	"github.com/sluicepay/sluice/indexer/lease"
	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/stores"
	"github.com/sluicepay/sluice/watch"
)

func newIndexCmd() *cobra.Command {
	var chains []string
	var from int64
	var metricsListen string
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Follow nodes and write every block into ClickHouse",
		Long: `Follows each chosen chain's node (chains.btc, chains.ltc, chains.eth in the config):
catches up from the last checkpoint with parallel fetches and big ClickHouse
batches, then follows the tip, woken by btcd's websocket, ZMQ hashblock or geth's
newHeads subscription when configured, and always by a poll of the node's best
block (indexer.poll_interval; chains.eth.poll_interval for geth).
A reorg is walked back (up to indexer.max_reorg blocks; deeper stops with an error),
the orphaned blocks are hidden from readers, and connected/disconnected events go to
the Redis Stream blocks:<chain>. Stop it any way you like, kill -9 included: it
resumes from its checkpoint in Postgres and removes anything half-written.

Run two or more (or several "sluice serve") for failover: with indexer.lease (default
on; SLUICE_INDEXER_LEASE=false turns it off) one process at a time indexes a chain,
holding a Postgres advisory lock on a connection of its own; the others log
"standby: chain X is indexed by another process" with the holder's host and pid,
try again every indexer.lease_poll (1s), and take over from the checkpoint within
seconds once the holder dies. A holder that loses its connection stops writing
and stands by. sluice_index_leader{chain} is 1 in the active process, 0 in standbys.

The watch set (Redis) is compared with the ledger's wallets at start, and the active
process checks its sentinel every 2 s: when the set was flushed or lost, replaced by an
older one, or Redis answers again after errors, it is rebuilt from the ledger in the
background and the blocks since the last intact check are reconciled, so payments to
wallets missing from it are found within seconds (sluice_watch_rebuilds_total{reason}).

Run "sluice migrate" first.`,
		Example: `  eval "$(sluice stack env)" && sluice index --chain btc,ltc,eth
  sluice index --chain ltc --metrics-listen 127.0.0.1:9101`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfigAndLogger(cmd)
			if err != nil {
				return err
			}
			checks, err := workerChecks(cmd.Context(), cfg, chains, "clickhouse", "postgres", "redis")
			if err != nil {
				return err
			}
			reg, stop, err := workerMetrics("index", metricsListen, log, checks)
			if err != nil {
				return err
			}
			defer stop()
			return runIndexers(cmd.Context(), cfg, reg, log, chains, from)
		},
	}
	cmd.Flags().StringSliceVar(&chains, "chain", nil, "chains to index (btc, ltc, eth); default every configured chain")
	cmd.Flags().Int64Var(&from, "from", 0, "first height to index when the index of a chain is empty")
	addMetricsFlag(cmd, &metricsListen, "127.0.0.1:9101")
	return cmd
}

// openWatch opens the chain's watch set and makes it equal to the ledger's
// wallets (Redis may have been lost, flushed or restored from an old snapshot),
// and returns the guard that keeps it so while the chain is indexed.
func openWatch(ctx context.Context, st *stores.Set, reg prometheus.Registerer, log *slog.Logger, chain string, chains *chainreg.Registry,
	receiveConfs int) (*watch.Set, *watch.Guard, error) {
	ws, err := watch.Open(ctx, st.Redis, chain, watch.Config{Registerer: reg})
	if err != nil {
		return nil, nil, err
	}
	ledger := &payments.Ledger{DB: st.PG, Chains: chains}
	tokens := chains.Tokens(chain)
	missing, err := ledger.SyncWatch(ctx, chain, ws)
	if err != nil {
		return nil, nil, err
	}
	if missing > 0 {
		log.Warn("the watch set lacked ledger wallets and was rebuilt; run `sluice reconcile` for payments made meanwhile",
			"chain", chain, "missing", missing)
	} else if sen, err := ws.Sentinel(ctx); err == nil && sen.Build == "" {
		// a set equal to the ledger from before sentinels (or an empty one):
		// rebuilt once here, so its guard does not take it for a lost one
		if err := ledger.RebuildWatch(ctx, chain, ws); err != nil {
			return nil, nil, err
		}
	}
	g, err := watch.NewGuard(ws, reg)
	if err != nil {
		return nil, nil, err
	}
	g.Log = log.With("chain", chain, "worker", "watch-guard")
	g.Ledger = func(ctx context.Context) ([]string, error) { return ledger.Addresses(ctx, chain) }
	g.LedgerCount = func(ctx context.Context) (int64, error) { return ledger.CountAddresses(ctx, chain) }
	g.Height = func(ctx context.Context) (int64, error) { return indexer.MatchedHeight(ctx, st.PG, chain) }
	cons := &payments.Consumer{Ledger: ledger, Chain: chain, Log: g.Log, ReceiveConfirmations: receiveConfs}
	g.Reconcile = func(ctx context.Context, from int64) (int, error) {
		return payments.Reconcile(ctx, cons, st.CH, tokens, from)
	}
	return ws, g, nil
}

// termJobs builds, for one term of leadership, a fresh follower whose
// checkpoints are cps, and returns it and its triggers as jobs to run.
type termJobs func(cps indexer.Checkpoints) []func(context.Context) error

// ethFollower wires the follower of EVM chain c and, with a WebSocket, its newHeads trigger.
func ethFollower(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, c string, e *config.Ethereum, from int64,
	writer *store.Writer, st *stores.Set, metrics *indexer.Metrics, latency *prometheus.HistogramVec, badBlocks *prometheus.CounterVec) (termJobs, error) {
	if !e.IsEnabled() {
		return nil, fmt.Errorf("--chain %s: chains.%s is not configured", c, c)
	}
	url := e.WS
	if url == "" {
		url = e.RPC // no subscription: the poll alone drives the follower
	}
	node, err := ethereum.Dial(ctx, c, url, latency)
	if err != nil {
		return nil, err
	}
	if err := ethereum.CheckChain(ctx, node, e.Network, e.ChainID); err != nil {
		return nil, err
	}
	push := ""
	if e.WS != "" {
		push = "websocket"
	}
	metrics.Init(c, push)
	unparsed := prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_eth_unparsed_transfer_logs_total",
		Help:        "Logs with the ERC-20 Transfer topic but another shape (ERC-721, odd tokens), kept in transfer_logs_unparsed.",
		ConstLabels: prometheus.Labels{"chain": c}})
	if err := reg.Register(unparsed); err != nil {
		return nil, err
	}
	src := &ethereum.Source{Node: node, Traces: e.Traces, BadBlocks: badBlocks.WithLabelValues(c),
		UnparsedTransfers: unparsed, Log: log.With("chain", c)}
	chains, err := chainreg.New(cfg)
	if err != nil {
		return nil, err
	}
	ws, guard, err := openWatch(ctx, st, reg, log, c, chains, cfg.Receive.Confirmations)
	if err != nil {
		return nil, err
	}
	log.Info("indexing", "chain", c, "network", e.Network, "node", url, "traces", e.Traces)
	return func(cps indexer.Checkpoints) []func(context.Context) error {
		f := indexer.NewFollower(indexer.Options[ethereum.Indexed]{
			Chain: c, Workers: cfg.Indexer.Workers, BatchRows: cfg.Indexer.BatchRows, MaxReorg: cfg.Indexer.MaxReorg, UnboundedReorgs: cfg.Indexer.UnboundedReorgs,
			PollInterval: e.PollInterval, StartHeight: from, Push: push, Log: log,
			Credits: ethereum.Credits(chains.NativeOf(c), chains.Tokens(c)), Watch: ws,
		}, src, store.NewEthereumSink(writer, c), cps, indexer.RedisPublisher{Client: st.Redis}, metrics)
		jobs := []func(context.Context) error{f.Run, guard.Run, expirer(st, guard, c, cfg.Receive.ExpireAfter, log)}
		if e.WS != "" {
			trig := &ethereum.NewHeads{Node: node, Log: log.With("chain", c)}
			jobs = append(jobs, func(ctx context.Context) error { return trig.Run(ctx, f.Wake) })
		}
		return jobs
	}, nil
}

// bitcoinFollower wires a Bitcoin-family follower and its push triggers.
func bitcoinFollower(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, c string, bc *config.Bitcoin, from int64,
	writer *store.Writer, st *stores.Set, metrics *indexer.Metrics, latency *prometheus.HistogramVec, badBlocks, zmqGaps *prometheus.CounterVec) (termJobs, error) {
	if !bc.IsEnabled() {
		return nil, fmt.Errorf("--chain %s: chains.%s is not configured", c, c)
	}
	params, err := bitcoin.ParamsFor(c, bc.Network)
	if err != nil {
		return nil, err
	}
	node, err := bitcoin.NewNode(c, bc.RPC, latency)
	if err != nil {
		return nil, err
	}
	if err := node.CheckNetwork(ctx, bc.Network); err != nil {
		return nil, err
	}
	src := &bitcoin.Source{Node: node, Params: params, BadBlocks: badBlocks.WithLabelValues(c)}
	// At 0 from the start, with or without ZMQ (none lost then), so that the
	// sync dashboard's panel and rate() see it before the first gap.
	zmqGaps.WithLabelValues(c)
	push := ""
	switch {
	case bc.ZMQ != "":
		push = "zmq"
	case bc.BtcdWebsocket:
		push = "websocket"
	}
	metrics.Init(c, push)
	chains, err := chainreg.New(cfg)
	if err != nil {
		return nil, err
	}
	ws, guard, err := openWatch(ctx, st, reg, log, c, chains, cfg.Receive.Confirmations)
	if err != nil {
		return nil, err
	}
	log.Info("indexing", "chain", c, "network", bc.Network, "node", node.URL())
	return func(cps indexer.Checkpoints) []func(context.Context) error {
		f := indexer.NewFollower(indexer.Options[bitcoin.Indexed]{
			Chain: c, Workers: cfg.Indexer.Workers, BatchRows: cfg.Indexer.BatchRows, MaxReorg: cfg.Indexer.MaxReorg, UnboundedReorgs: cfg.Indexer.UnboundedReorgs,
			PollInterval: cfg.Indexer.PollInterval, StartHeight: from, Push: push, Log: log,
			Credits: bitcoin.Credits(strings.ToUpper(c)), Watch: ws,
			Payers: bitcoin.Payers(node, func(ctx context.Context, txid string, n uint32) (string, error) {
				return store.OutputAddress(ctx, st.CH, c, txid, n)
			}),
		}, src, store.NewBitcoinSink(writer, c), cps, indexer.RedisPublisher{Client: st.Redis}, metrics)
		jobs := []func(context.Context) error{f.Run, guard.Run, expirer(st, guard, c, cfg.Receive.ExpireAfter, log)}
		if bc.BtcdWebsocket {
			jobs = append(jobs, func(ctx context.Context) error {
				return bitcoin.BtcdWebsocket{RPC: bc.RPC, Log: log.With("chain", c)}.Run(ctx, f.Wake)
			})
		}
		if bc.ZMQ != "" {
			jobs = append(jobs, func(ctx context.Context) error {
				return bitcoin.ZMQ{Endpoint: bc.ZMQ, Chain: c, Gaps: zmqGaps, Log: log.With("chain", c)}.Run(ctx, f.Wake)
			})
		}
		return jobs
	}, nil
}

// runIndexers runs one follower per chain until ctx ends or one stops for
// good. With indexer.lease (the default) each chain's follower runs only
// while this process holds the chain's lease; otherwise it stands by.
func runIndexers(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, chains []string, from int64) error {
	run, _, err := chainsToRun(cfg, chains)
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

	writer := store.NewWriter(st.CH, reg)
	metrics := indexer.NewMetrics(reg)
	leaders := lease.NewMetrics(reg)
	latency := indexer.NewRPCLatency(reg)
	badBlocks := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_node_bad_blocks_total",
		Help: "Blocks a node sent that did not decode or were not the block asked for."}, []string{"chain"})
	zmqGaps := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_zmq_sequence_gaps_total",
		Help: "Gaps in a node's ZMQ hashblock sequence: notifications lost (the poll covers them)."}, []string{"chain"})
	reg.MustRegister(badBlocks, zmqGaps)
	resolved := explorer.NewResolvedGauge(reg)

	type job struct {
		chain string
		run   func(context.Context) error
	}
	var jobs []job
	for _, ch := range run {
		c := ch.Key
		var build termJobs
		switch ch.Family {
		case chainreg.EVM:
			build, err = ethFollower(ctx, cfg, reg, log, c, cfg.Chains.EVMChain(c), from, writer, st, metrics, latency, badBlocks)
		case chainreg.Bitcoin:
			build, err = bitcoinFollower(ctx, cfg, reg, log, c, cfg.Chains.BitcoinChain(c), from, writer, st, metrics, latency, badBlocks, zmqGaps)
			if err == nil {
				build = withSpendResolver(build, c, st.CH, resolved, log)
			}
		}
		if err != nil {
			return err
		}
		if !cfg.Indexer.LeaseEnabled() {
			leaders.Set(c, true)
			jobs = append(jobs, job{c, func(ctx context.Context) error {
				return runAll(ctx, build(indexer.PGCheckpoints{DB: st.PG}))
			}})
			continue
		}
		l, err := lease.New(lease.Options{DSN: cfg.Postgres.DSN, Chain: c, Poll: cfg.Indexer.LeasePoll, Log: log, Metrics: leaders})
		if err != nil {
			return err
		}
		jobs = append(jobs, job{c, func(ctx context.Context) error {
			return l.Run(ctx, func(ctx context.Context, t lease.Term) error {
				fence := &indexer.AdvisoryFence{Key: t.Key, PID: t.PID}
				return runAll(ctx, build(indexer.PGCheckpoints{DB: st.PG, Fence: fence}))
			})
		}})
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := j.run(ctx); err != nil {
				errs[i] = fmt.Errorf("%s indexer: %w", j.chain, err)
				cancel() // one chain stopping for good stops the process, so a supervisor sees it
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runAll runs jobs together until ctx ends or one of them fails, which
// stops the others; it returns when all have returned.
func runAll(ctx context.Context, jobs []func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, run := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = run(ctx); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// expirer expires the chain's idle litepay receive addresses every minute
// (or every after, when shorter) and rebuilds the watch set without them;
// it runs next to the guard, in the active indexer.
func expirer(st *stores.Set, guard *watch.Guard, chain string, after time.Duration, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		ledger := &payments.Ledger{DB: st.PG}
		t := time.NewTicker(min(time.Minute, max(after/2, time.Second)))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
			n, err := ledger.ExpireReceive(ctx, chain, after)
			if err != nil {
				log.Warn("expiring idle receive addresses failed; next round in a while", "chain", chain, "err", err)
				continue
			}
			if n == 0 {
				continue
			}
			if _, err := guard.Shrink(ctx); err != nil {
				log.Warn("rebuilding the watch set without expired receive addresses failed; the guard's next rebuild drops them",
					"chain", chain, "err", err)
				continue
			}
			log.Info("idle receive addresses expired: out of the watch set, still reconciled", "chain", chain, "count", n, "idle_for", after)
		}
	}
}
