package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/payments/sweep"
)

func newWithdrawalsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "withdrawals",
		Short: "Pause, resume and list paused withdrawals per currency",
		Long: `Withdrawals of a currency are paused by the sweepers' solvency check (the hot wallet on
chain holds less than the ledger owes, or a balance is negative) and by a reorg that took back
a deposit a confirmed hot-wallet sweep had spent. While paused, POST /withdrawal/create answers
503 and withdrawals already accepted wait unsigned (a token's withdrawals also wait while the
chain's coin, which pays their gas, is paused). An operator resumes after finding the cause
(see docs/operations.md, "Withdrawals paused").`,
		Example: `  sluice withdrawals list
  sluice withdrawals pause --currency BTC --reason "investigating the hot wallet"
  sluice withdrawals resume --currency BTC`,
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the paused currencies with why and since when",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withLedger(cmd, func(_ *config.Config, pg *pgxpool.Pool) error {
				ps, err := sweep.Pauses(cmd.Context(), pg)
				if err != nil {
					return err
				}
				if len(ps) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no withdrawals are paused")
					return nil
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CURRENCY\tPAUSED AT\tREASON")
				for _, p := range ps {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Currency, p.PausedAt.UTC().Format(time.RFC3339), p.Reason)
				}
				return tw.Flush()
			})
		},
	}
	var currency, reason string
	// change runs a pause or a resume of --currency and says what it did.
	change := func(cmd *cobra.Command, did, not string, fn func(pg *pgxpool.Pool, cur string) (bool, error)) error {
		cur := strings.ToUpper(strings.TrimSpace(currency))
		if cur == "" {
			return errors.New("--currency is required")
		}
		return withLedger(cmd, func(_ *config.Config, pg *pgxpool.Pool) error {
			changed, err := fn(pg, cur)
			if err != nil {
				return err
			}
			if !changed {
				fmt.Fprintf(cmd.OutOrStdout(), "withdrawals of %s %s\n", cur, not)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "withdrawals of %s %s\n", cur, did)
			return nil
		})
	}
	pause := &cobra.Command{
		Use:   "pause",
		Short: "Stop withdrawals of a currency until resumed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason is required: it tells the other operators why")
			}
			return change(cmd, "paused", "were already paused", func(pg *pgxpool.Pool, cur string) (bool, error) {
				return sweep.Pause(cmd.Context(), pg, cur, "operator: "+reason)
			})
		},
	}
	resume := &cobra.Command{
		Use:   "resume",
		Short: "Let withdrawals of a currency go out again",
		Long: `Lifts the pause of --currency. The sweepers' next solvency check pauses it again if the
hot wallet still does not cover what the ledger owes: run "sluice ledger check" first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return change(cmd, "resumed", "were not paused", func(pg *pgxpool.Pool, cur string) (bool, error) {
				return sweep.Resume(cmd.Context(), pg, cur)
			})
		},
	}
	for _, c := range []*cobra.Command{pause, resume} {
		c.Flags().StringVar(&currency, "currency", "", "the currency (BTC, LTC, ETH, USDT, ...)")
	}
	pause.Flags().StringVar(&reason, "reason", "", "why, for the other operators and the logs")
	cmd.AddCommand(list, pause, resume)
	return cmd
}
