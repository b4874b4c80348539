package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/payments/ledger"
	"github.com/sluicepay/sluice/stores"
)

func newLedgerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "The books: per merchant and currency, and their check against the chain"}
	var merchantID int64
	var asJSON bool
	show := &cobra.Command{
		Use:   "show",
		Short: "Per merchant and currency: deposited, fees, settled, to the hot wallet, forwarded, withdrawn, balance, unswept",
		Long: `Reads the books in one query (one moment): what confirmed deposits brought, the service and
network fees of confirmed sweeps, what reached settlement addresses, the hot wallet and litepay
destinations, withdrawals with their fees, the balance (hot wallet − withdrawals) and what is not
swept yet. Amounts are exact decimals of each currency.`,
		Example: `  sluice ledger show --merchant 1
  sluice ledger show --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withLedger(cmd, func(_ *config.Config, pg *pgxpool.Pool) error {
				rows, err := ledger.View(cmd.Context(), pg, merchantID)
				if err != nil {
					return err
				}
				if asJSON {
					if rows == nil {
						rows = []ledger.Row{}
					}
					return printJSON(cmd, rows)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', tabwriter.AlignRight)
				fmt.Fprintln(tw, "MERCHANT\tCURRENCY\tDEPOSITED\tFEES\tNETWORK\tSETTLED\tHOT\tFORWARDED\tWITHDRAWN\tBALANCE\tUNSWEPT\t")
				for _, r := range rows {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.MerchantID, r.Currency, r.Decimal(r.Deposited),
						r.Decimal(r.Fees), r.Decimal(r.NetworkFees), r.Decimal(r.Settled), r.Decimal(r.ToHot), r.Decimal(r.Forwarded),
						r.Decimal(r.Withdrawn), r.Decimal(r.Balance), r.Decimal(r.Unswept))
				}
				return tw.Flush()
			})
		},
	}
	show.Flags().Int64Var(&merchantID, "merchant", 0, "one merchant (default every merchant)")
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON, amounts in base units")
	check := &cobra.Command{
		Use:   "check",
		Short: "Verify the ledger against the chain index to the base unit; exit 1 on any disagreement",
		Long: `Every confirmed deposit must be the output or transfer the chain index holds (same address,
same amount); every confirmed sweep's transaction must pay its destination and the fee address
exactly what the ledger says and (BTC/LTC) spend exactly its deposits. Prints each disagreement;
"ledger check: clean" when there is none.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			st, err := stores.Open(cmd.Context(), cfg.ClickHouse.DSN, cfg.Postgres.DSN, cfg.Redis.URL)
			if err != nil {
				return err
			}
			defer st.Close()
			problems, err := ledger.Check(cmd.Context(), st.PG, st.CH)
			if err != nil {
				return err
			}
			for _, p := range problems {
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
			if len(problems) > 0 {
				return errors.New("ledger check: " + fmt.Sprint(len(problems)) + " disagreement(s) with the chain")
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ledger check: clean")
			return nil
		},
	}
	cmd.AddCommand(show, check)
	return cmd
}
