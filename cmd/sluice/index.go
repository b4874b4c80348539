package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/indexer"
	"github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/indexer/ethereum"
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

Run "sluice migrate" first.`,
		Example: `  eval "$(sluice stack env)" && sluice index --chain btc,ltc,eth
  sluice index --chain ltc --metrics-listen 127.0.0.1:9101`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfigAndLogger(cmd)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			if metricsListen != "" {
				ln, err := net.Listen("tcp", metricsListen)
				if err != nil {
					return fmt.Errorf("--metrics-listen %s: %w", metricsListen, err)
				}
				srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
				go func() { _ = srv.Serve(ln) }()
				defer srv.Close()
				log.Info("metrics", "url", "http://"+ln.Addr().String()+"/metrics")
			}
			return runIndexers(cmd.Context(), cfg, reg, log, chains, from)
		},
	}
	cmd.Flags().StringSliceVar(&chains, "chain", nil, "chains to index (btc, ltc, eth); default every configured chain")
	cmd.Flags().Int64Var(&from, "from", 0, "first height to index when the index of a chain is empty")
	cmd.Flags().StringVar(&metricsListen, "metrics-listen", "", "serve Prometheus metrics on this address (e.g. 127.0.0.1:9101)")
	return cmd
}

// openWatch opens the chain's watch set and makes it equal to the ledger's
// wallets (Redis may have been lost, flushed or restored from an old snapshot).
func openWatch(ctx context.Context, st *stores.Set, reg prometheus.Registerer, log *slog.Logger, chain string) (*watch.Set, error) {
	ws, err := watch.Open(ctx, st.Redis, chain, watch.Config{Registerer: reg})
	if err != nil {
		return nil, err
	}
	missing, err := (&payments.Ledger{DB: st.PG}).SyncWatch(ctx, chain, ws)
	if err != nil {
		return nil, err
	}
	if missing > 0 {
		log.Warn("the watch set lacked ledger wallets and was rebuilt; run `sluice reconcile` for payments made meanwhile",
			"chain", chain, "missing", missing)
	}
	return ws, nil
}

// ethFollower wires the Ethereum follower and, with a WebSocket, its newHeads trigger.
func ethFollower(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, from int64, writer *store.Writer, st *stores.Set,
	metrics *indexer.Metrics, latency *prometheus.HistogramVec, badBlocks *prometheus.CounterVec) (*indexer.Follower[ethereum.Indexed], *ethereum.NewHeads, error) {
	e := cfg.Chains.ETH
	if !e.IsEnabled() {
		return nil, nil, errors.New("--chain eth: chains.eth is not configured")
	}
	url := e.WS
	if url == "" {
		url = e.RPC // no subscription: the poll alone drives the follower
	}
	node, err := ethereum.Dial(ctx, "eth", url, latency)
	if err != nil {
		return nil, nil, err
	}
	if err := ethereum.CheckNetwork(ctx, node, e.Network); err != nil {
		return nil, nil, err
	}
	push := ""
	if e.WS != "" {
		push = "websocket"
	}
	unparsed := prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_eth_unparsed_transfer_logs_total",
		Help:        "Logs with the ERC-20 Transfer topic but another shape (ERC-721, odd tokens), kept in transfer_logs_unparsed.",
		ConstLabels: prometheus.Labels{"chain": "eth"}})
	if err := reg.Register(unparsed); err != nil {
		return nil, nil, err
	}
	src := &ethereum.Source{Node: node, Traces: e.Traces, BadBlocks: badBlocks.WithLabelValues("eth"),
		UnparsedTransfers: unparsed, Log: log.With("chain", "eth")}
	ws, err := openWatch(ctx, st, reg, log, "eth")
	if err != nil {
		return nil, nil, err
	}
	f := indexer.NewFollower(indexer.Options[ethereum.Indexed]{
		Chain: "eth", Workers: cfg.Indexer.Workers, BatchRows: cfg.Indexer.BatchRows, MaxReorg: cfg.Indexer.MaxReorg, UnboundedReorgs: cfg.Indexer.UnboundedReorgs,
		PollInterval: e.PollInterval, StartHeight: from, Push: push, Log: log,
		Credits: ethereum.Credits(e.TokenSymbols()), Watch: ws,
	}, src, store.NewEthereumSink(writer, "eth"), indexer.PGCheckpoints{DB: st.PG}, indexer.RedisPublisher{Client: st.Redis}, metrics)
	log.Info("indexing", "chain", "eth", "network", e.Network, "node", url, "traces", e.Traces)
	if e.WS == "" {
		return f, nil, nil
	}
	return f, &ethereum.NewHeads{Node: node, Log: log.With("chain", "eth")}, nil
}

// runIndexers runs one follower per chain until ctx ends or one stops for good.
func runIndexers(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, chains []string, from int64) error {
	all := map[string]*config.Bitcoin{"btc": cfg.Chains.BTC, "ltc": cfg.Chains.LTC}
	if len(chains) == 0 {
		for _, c := range []string{"btc", "ltc"} {
			if all[c].IsEnabled() {
				chains = append(chains, c)
			}
		}
		if cfg.Chains.ETH.IsEnabled() {
			chains = append(chains, "eth")
		}
	}
	if len(chains) == 0 {
		return errors.New("no chain to index: configure chains.btc, chains.ltc or chains.eth (or SLUICE_BTC_RPC, SLUICE_LTC_RPC, SLUICE_ETH_WS)")
	}
	st, err := stores.Open(ctx, cfg.ClickHouse.DSN, cfg.Postgres.DSN, cfg.Redis.URL)
	if err != nil {
		return err
	}
	defer st.Close()

	writer := store.NewWriter(st.CH, reg)
	metrics := indexer.NewMetrics(reg)
	latency := indexer.NewRPCLatency(reg)
	badBlocks := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_node_bad_blocks_total",
		Help: "Blocks a node sent that did not decode or were not the block asked for."}, []string{"chain"})
	zmqGaps := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_zmq_sequence_gaps_total",
		Help: "Gaps in a node's ZMQ hashblock sequence: notifications lost (the poll covers them)."}, []string{"chain"})
	reg.MustRegister(badBlocks, zmqGaps)

	type job struct {
		chain string
		run   func(context.Context) error
	}
	var jobs []job
	for _, c := range chains {
		if c == "eth" {
			f, trig, err := ethFollower(ctx, cfg, reg, log, from, writer, st, metrics, latency, badBlocks)
			if err != nil {
				return err
			}
			jobs = append(jobs, job{c, f.Run})
			if trig != nil {
				jobs = append(jobs, job{c, func(ctx context.Context) error { return trig.Run(ctx, f.Wake) }})
			}
			continue
		}
		bc, ok := all[c]
		if !ok {
			return fmt.Errorf("--chain %s: this command indexes btc, ltc and eth", c)
		}
		if !bc.IsEnabled() {
			return fmt.Errorf("--chain %s: chains.%s is not configured", c, c)
		}
		params, err := bitcoin.ParamsFor(c, bc.Network)
		if err != nil {
			return err
		}
		node, err := bitcoin.NewNode(c, bc.RPC, latency)
		if err != nil {
			return err
		}
		if err := node.CheckNetwork(ctx, bc.Network); err != nil {
			return err
		}
		src := &bitcoin.Source{Node: node, Params: params, BadBlocks: badBlocks.WithLabelValues(c)}
		push := ""
		switch {
		case bc.ZMQ != "":
			push = "zmq"
		case bc.BtcdWebsocket:
			push = "websocket"
		}
		ws, err := openWatch(ctx, st, reg, log, c)
		if err != nil {
			return err
		}
		f := indexer.NewFollower(indexer.Options[bitcoin.Indexed]{
			Chain: c, Workers: cfg.Indexer.Workers, BatchRows: cfg.Indexer.BatchRows, MaxReorg: cfg.Indexer.MaxReorg, UnboundedReorgs: cfg.Indexer.UnboundedReorgs,
			PollInterval: cfg.Indexer.PollInterval, StartHeight: from, Push: push, Log: log,
			Credits: bitcoin.Credits(strings.ToUpper(c)), Watch: ws,
			Payers: bitcoin.Payers(node, func(ctx context.Context, txid string, n uint32) (string, error) {
				return store.OutputAddress(ctx, st.CH, c, txid, n)
			}),
		}, src, store.NewBitcoinSink(writer, c), indexer.PGCheckpoints{DB: st.PG}, indexer.RedisPublisher{Client: st.Redis}, metrics)
		log.Info("indexing", "chain", c, "network", bc.Network, "node", node.URL())
		jobs = append(jobs, job{c, f.Run})
		if bc.BtcdWebsocket {
			jobs = append(jobs, job{c, func(ctx context.Context) error {
				return bitcoin.BtcdWebsocket{RPC: bc.RPC, Log: log.With("chain", c)}.Run(ctx, f.Wake)
			}})
		}
		if bc.ZMQ != "" {
			jobs = append(jobs, job{c, func(ctx context.Context) error {
				return bitcoin.ZMQ{Endpoint: bc.ZMQ, Chain: c, Gaps: zmqGaps, Log: log.With("chain", c)}.Run(ctx, f.Wake)
			}})
		}
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
