package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/bench"
	"github.com/sluicepay/sluice/schema"
	"github.com/sluicepay/sluice/stores"
)

// explorerBenchResult is `sluice bench explorer --json`; keys name their units.
type explorerBenchResult struct {
	Outputs        int     `json:"outputs"`
	HotTxs         int     `json:"hot_address_txs"`
	Requests       int     `json:"requests_per_measurement"`
	FillS          float64 `json:"fill_s"`
	FirstPageP50Ms float64 `json:"first_page_p50_ms"`
	FirstPageP99Ms float64 `json:"first_page_p99_ms"`
	DeepPageP50Ms  float64 `json:"deep_page_p50_ms"`
	DeepPageP99Ms  float64 `json:"deep_page_p99_ms"`
	BalanceP50Ms   float64 `json:"balance_p50_ms"`
	BalanceP99Ms   float64 `json:"balance_p99_ms"`
	FloorP50Ms     float64 `json:"healthz_p50_ms"`
	SelectOneP50Ms float64 `json:"clickhouse_select_1_p50_ms"`
	SelectOneP99Ms float64 `json:"clickhouse_select_1_p99_ms"`
	RatioToLimit   float64 `json:"ratio_to_limit"`
}

func newBenchExplorerCmd() *cobra.Command {
	var (
		outputs, hot, requests int
		database               string
		keep, reuse, asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "explorer",
		Short: "Latency of the explorer API for a busy address in a large synthetic BTC index",
		Long: `Creates a scratch database (--database) on the configured ClickHouse, migrates it, fills
it with a synthetic BTC index of --outputs outputs (100 per block, two per transaction,
a million addresses), --hot-txs of them paying one address and half of those spent, and
times over HTTP on loopback, --requests times each:

  address txs, first page   GET /v1/btc/address/HOT/txs?limit=50
  address txs, page halfway the same after a cursor halfway down the history
  address balance           GET /v1/btc/address/HOT/balance

Measured in the same run, as the floor: GET /healthz through the same HTTP stack, and
ClickHouse's own SELECT 1 round trip. ratio_to_limit is the first page's p99 over the
50 ms target. The database is dropped at the end unless --keep.`,
		Example: `  sluice bench explorer
  sluice bench explorer --outputs 1000000 --hot-txs 1000 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			u, err := url.Parse(cfg.ClickHouse.DSN)
			if err != nil {
				return fmt.Errorf("clickhouse.dsn: %w", err)
			}
			base := u.String()
			u.Path = "/" + database
			dsn := u.String()
			progress := cmd.ErrOrStderr()
			drop := func() {
				admin, err := stores.OpenClickHouse(base)
				if err != nil {
					return
				}
				defer admin.Close()
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				_ = admin.Exec(dctx, "DROP DATABASE IF EXISTS "+database)
			}
			if !reuse {
				drop() // a run killed before left it
				if err := schema.Migrate(ctx, cfg.Postgres.DSN, dsn, version, io.Discard); err != nil {
					return err
				}
			}
			if !keep {
				defer drop()
			}
			ch, err := stores.OpenClickHouse(dsn)
			if err != nil {
				return err
			}
			defer ch.Close()
			fmt.Fprintf(progress, "filling %s with %d outputs (%d to the busy address)...\n", database, outputs, hot)
			r, err := bench.ExplorerLatency{CH: ch, Outputs: outputs, HotTxs: hot, Requests: requests, Reuse: reuse, Out: progress}.Run(ctx)
			if err != nil {
				return err
			}
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			res := explorerBenchResult{Outputs: r.Outputs, HotTxs: r.HotTxs, Requests: r.Requests, FillS: r.FillTime.Seconds(),
				FirstPageP50Ms: ms(r.FirstPage.P50), FirstPageP99Ms: ms(r.FirstPage.P99),
				DeepPageP50Ms: ms(r.DeepPage.P50), DeepPageP99Ms: ms(r.DeepPage.P99),
				BalanceP50Ms: ms(r.Balance.P50), BalanceP99Ms: ms(r.Balance.P99),
				FloorP50Ms: ms(r.Floor.P50), SelectOneP50Ms: ms(r.SelectOne.P50), SelectOneP99Ms: ms(r.SelectOne.P99)}
			res.RatioToLimit = res.FirstPageP99Ms / 50
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintf(w, "explorer, %d outputs, busy address with %d txs, %d requests each\n", res.Outputs, res.HotTxs, res.Requests)
			fmt.Fprintf(w, "measurement\tp50 ms\tp99 ms\n")
			fmt.Fprintf(w, "address txs, first page\t%.2f\t%.2f\n", res.FirstPageP50Ms, res.FirstPageP99Ms)
			fmt.Fprintf(w, "address txs, page halfway\t%.2f\t%.2f\n", res.DeepPageP50Ms, res.DeepPageP99Ms)
			fmt.Fprintf(w, "address balance\t%.2f\t%.2f\n", res.BalanceP50Ms, res.BalanceP99Ms)
			fmt.Fprintf(w, "floor: GET /healthz\t%.2f\t\n", res.FloorP50Ms)
			fmt.Fprintf(w, "floor: ClickHouse SELECT 1\t%.2f\t%.2f\n", res.SelectOneP50Ms, res.SelectOneP99Ms)
			fmt.Fprintf(w, "first page p99 / 50 ms target\t%.2f\t\n", res.RatioToLimit)
			fmt.Fprintf(w, "fill time\t%.1f s\t\n", res.FillS)
			return w.Flush()
		},
	}
	cmd.Flags().IntVar(&outputs, "outputs", 10_000_000, "outputs in the synthetic index")
	cmd.Flags().IntVar(&hot, "hot-txs", 10_000, "transactions paying the busy address")
	cmd.Flags().IntVar(&requests, "requests", 300, "requests per measurement")
	cmd.Flags().StringVar(&database, "database", "sluice_bench_explorer", "the scratch ClickHouse database (dropped and re-created)")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the scratch database afterwards")
	cmd.Flags().BoolVar(&reuse, "reuse", false, "measure a database an earlier --keep run filled, without filling it again")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
