package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/payments"
)

func newDepositsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "deposits", Short: "Look at deposits in the ledger"}
	var f payments.ListFilter
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List deposits, newest first (amounts in base units: satoshi, litoshi, wei, token units)",
		Example: `  sluice deposits list
  sluice deposits list --merchant 3 --currency USDT --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withLedger(cmd, func(cfg *config.Config, pg *pgxpool.Pool) error {
				reg, _ := chain.New(cfg) // config.Load refused a configuration it cannot build
				if _, known := reg.Lookup(f.Currency); f.Currency != "" && !known {
					return fmt.Errorf("--currency %q: %w", f.Currency, payments.ErrUnknownCurrency)
				}
				ds, err := (&payments.Ledger{DB: pg}).ListDeposits(cmd.Context(), f)
				if err != nil {
					return err
				}
				if asJSON {
					if ds == nil {
						ds = []payments.DepositRow{}
					}
					return printJSON(cmd, ds)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tMERCHANT\tEXT_ID\tCURRENCY\tAMOUNT\tSTATUS\tCONFS\tTXID\tPOSITION\tFROM")
				for _, d := range ds {
					status := []string{"seen", "confirmed", "failed"}[d.Status]
					if d.Donation {
						status += ",donation" // litepay: under the minimum, kept, not forwarded
					}
					fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.MerchantID, d.ExtID, d.Currency, d.Amount,
						status, d.Confirmations, d.TxID, d.Position, d.From)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().Int64Var(&f.MerchantID, "merchant", 0, "only this merchant's deposits")
	list.Flags().StringVar(&f.Currency, "currency", "", "only BTC, LTC, ETH or USDT")
	list.Flags().IntVar(&f.Limit, "limit", 100, "at most this many (up to 10000)")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(list)
	return cmd
}
