package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	chainreg "github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/payments"
)

func newReconcileCmd() *cobra.Command {
	var chain string
	var from int64
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Create every deposit the chain index shows and the ledger lacks",
		Long: `Queries ClickHouse for every canonical payment to a ledger wallet on the chain
from --from on (outputs for BTC/LTC; ETH payments, configured token transfers and
internal transfers for ETH), creates the deposits the fast path (watch set → block
event → payments worker) missed, with their events, and brings confirmations to the
index's tip. Safe to run at any time and as often as you like: deposits have natural
keys. "sluice index" rebuilds the watch set from the ledger when it starts, and while
it runs repairs a lost or flushed set and reconciles the blocks since by itself; use this
for older gaps (e.g. after restoring a ledger backup, from a height before it).`,
		Example: `  sluice reconcile --chain ltc
  sluice reconcile --chain eth --from 19000000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfigAndLogger(cmd)
			if err != nil {
				return err
			}
			reg, _ := chainreg.New(cfg)
			if _, ok := reg.Chain(chain); !ok {
				var keys []string
				for _, c := range reg.Chains() {
					keys = append(keys, c.Key)
				}
				return fmt.Errorf("--chain %q: one of the configured chains %s", chain, strings.Join(keys, ", "))
			}
			st, err := openStores(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			tokens := reg.Tokens(chain)
			c := &payments.Consumer{Ledger: &payments.Ledger{DB: st.PG, Chains: reg}, Chain: chain, Log: log.With("chain", chain),
				ReceiveConfirmations: cfg.Receive.Confirmations}
			n, err := payments.Reconcile(cmd.Context(), c, st.CH, tokens, from)
			if err != nil {
				return fmt.Errorf("reconcile %s: %w", chain, err)
			}
			if n > 0 {
				// a metric of a one-shot command would die with it: the log line is the record
				log.Warn("the reconciler found deposits the fast path missed", "chain", chain, "count", n)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d deposits created\n", chain, n)
			return nil
		},
	}
	cmd.Flags().StringVar(&chain, "chain", "", "btc, ltc or eth (required)")
	cmd.Flags().Int64Var(&from, "from", 0, "first block height to look at")
	_ = cmd.MarkFlagRequired("chain")
	return cmd
}
