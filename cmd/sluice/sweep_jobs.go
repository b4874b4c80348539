package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/payments/sweep"
)

func newSweepJobsCmd() *cobra.Command {
	var f sweep.JobFilter
	var all, asJSON bool
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List sweep jobs (sweeps, forwards, gas top-ups, withdrawals): the open ones, oldest first, with why they wait",
		Long: `Lists the sweep jobs of the ledger. By default the open ones (planned, signed, broadcast),
oldest first: what SluiceSweepJobOld, SluiceSweepStuck and SluiceSweepErrors are about. ERROR
says why a job waits or last failed ("output … is spent or unknown", "has N wei to spend,
less than …", a fee above the withdrawal's reserve); ATTEMPTS counts its broadcasts.
Amounts are in base units (satoshi, litoshi, wei, token units).`,
		Example: `  sluice sweep jobs
  sluice sweep jobs --chain eth --state planned
  sluice sweep jobs --all --merchant 3 --limit 20 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.State != "" && !strings.Contains(" planned signed broadcast confirmed failed replaced ", " "+f.State+" ") {
				return fmt.Errorf("--state %q: one of planned, signed, broadcast, confirmed, failed, replaced", f.State)
			}
			f.Open = !all && f.State == ""
			return withLedger(cmd, func(_ *config.Config, pg *pgxpool.Pool) error {
				jobs, err := sweep.ListJobs(cmd.Context(), pg, f)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd, jobs)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tCHAIN\tKIND\tCURRENCY\tMERCHANT\tSTATE\tAGE\tAMOUNT\tATTEMPTS\tTXID\tERROR")
				for _, j := range jobs {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\n", j.ID, j.Chain, j.Kind, j.Currency, j.MerchantID,
						j.State, time.Since(j.CreatedAt).Round(time.Second), j.Amount, j.Attempts, j.TxID, j.Error)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&f.Chain, "chain", "", "only btc, ltc or eth")
	cmd.Flags().StringVar(&f.State, "state", "", "only this state: planned, signed, broadcast, confirmed, failed, replaced")
	cmd.Flags().Int64Var(&f.MerchantID, "merchant", 0, "only this merchant's jobs")
	cmd.Flags().BoolVar(&all, "all", false, "every job, newest first, not only the open ones")
	cmd.Flags().IntVar(&f.Limit, "limit", 100, "at most this many (up to 10000)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
