package main

import (
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/bench"
	"github.com/sluicepay/sluice/config"
)

func newBenchWebhooksCmd() *cobra.Command {
	var dir string
	var deposits, perBlock int
	cmd := &cobra.Command{
		Use:   "webhooks",
		Short: "Time from a block being mined to each deposit's status-0 webhook (p50/p99), on the local stack",
		Long: `Needs a running "sluice serve" on the stack in --dir (make run). Creates a merchant of its
own whose status-0 ("created") webhooks go to a receiver on loopback, creates --deposits LTC
wallets through the API, then, --per-block at a time, pays them in one litecoind transaction,
mines one block, and records when the block reached the ledger's checkpoint (indexed) and
when each deposit's webhook arrived, both counted from the moment the block was mined.`,
		Example: `  make run   # in another shell
  sluice bench webhooks --deposits 200 --per-block 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withLedger(cmd, func(cfg *config.Config, pg *pgxpool.Pool) error {
				nodes, err := stackNodes(dir, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				res, err := bench.WebhookLatency{API: "http://" + cfg.API.Listen, DB: pg, Nodes: nodes, Deposits: deposits,
					PerBlock: perBlock, Out: cmd.ErrOrStderr()}.Run(cmd.Context())
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "deposits %d in %d blocks (indexer poll interval %s)\n", res.Deposits, res.Blocks, cfg.Indexer.PollInterval)
				for _, l := range []struct {
					what string
					q    bench.Quantiles
				}{{"block mined → indexed (checkpoint)     ", res.Indexed}, {"block mined → status-0 webhook received", res.Webhook}} {
					r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
					fmt.Fprintf(out, "%s p50 %v  p90 %v  p99 %v  max %v\n", l.what, r(l.q.P50), r(l.q.P90), r(l.q.P99), r(l.q.Max))
				}
				return nil
			})
		},
	}
	def := os.Getenv("SLUICE_STACK_DIR")
	if def == "" {
		def = "var/stack"
	}
	cmd.Flags().StringVar(&dir, "dir", def, "the stack's directory")
	cmd.Flags().IntVar(&deposits, "deposits", 200, "deposits to time")
	cmd.Flags().IntVar(&perBlock, "per-block", 20, "deposits per block")
	return cmd
}
