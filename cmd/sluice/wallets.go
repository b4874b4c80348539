package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/payments"
)

func newWalletsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "wallets", Short: "Deposit addresses: their counters against the chain"}
	var gap int
	rescan := &cobra.Command{
		Use:   "rescan",
		Short: "Move every address counter past the addresses the chain shows as used (after restoring a ledger backup)",
		Long: `For every merchant and every configured currency, derives --gap addresses from the
merchant's address counter on (from the master seed, or the merchant's watch-only key) and
looks each up in the chain index (outputs paying it for BTC and LTC; ETH, token and internal
transfers for ETH and USDT) and in the ledger's wallets. When any has history, the counter
moves past the last such address and the next --gap addresses are looked at, until --gap in
a row are unused: the gap-limit scan wallet apps do. Counters only move up.

A restored (older) Postgres backup rewinds the counters, and without this the next new
customer would get an address already given to one created after the backup, with that
customer's payments. "sluice serve" runs the same scan at start, before it makes new wallets;
run this by hand after a restore, with the indexers caught up (the scan sees only what the
index holds). Each new wallet is also checked on its own before it is handed out.`,
		Example: `  sluice wallets rescan
  sluice wallets rescan --gap 100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfigAndLogger(cmd)
			if err != nil {
				return err
			}
			if gap < 1 || gap > 10_000 {
				return fmt.Errorf("--gap %d: between 1 and 10000", gap)
			}
			keys, err := payments.KeysFromConfig(cfg)
			if err != nil {
				return err
			}
			st, err := openStores(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			chains, err := chain.New(cfg)
			if err != nil {
				return err
			}
			l := &payments.Ledger{DB: st.PG, Chains: chains, Keys: keys, Networks: payments.NetworksFromConfig(cfg), Log: log,
				Used: func(ctx context.Context, chain string, addrs []string) (map[string]bool, error) {
					return store.UsedAddresses(ctx, st.CH, chain, addrs)
				}}
			out := cmd.OutOrStdout()
			start := time.Now()
			var n, moved int
			_, err = l.GapScan(cmd.Context(), gap, func(r payments.GapResult) {
				n++
				if r.To != r.From {
					moved++
					fmt.Fprintf(out, "merchant %d %s: counter %d -> %d (%d used addresses found)\n", r.MerchantID, r.Currency, r.From, r.To, r.Used)
				} else {
					fmt.Fprintf(out, "merchant %d %s: counter %d, next %d addresses unused\n", r.MerchantID, r.Currency, r.From, gap)
				}
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%d counters checked, %d moved, in %s\n", n, moved, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	rescan.Flags().IntVar(&gap, "gap", payments.DefaultGapLimit, "unused addresses in a row that end the scan of a counter")
	cmd.AddCommand(rescan)
	return cmd
}
