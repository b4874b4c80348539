package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/payments/sweep"
	"github.com/sluicepay/sluice/stores"
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
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			pg, err := stores.OpenPostgres(cmd.Context(), cfg.Postgres.DSN)
			if err != nil {
				return err
			}
			defer pg.Close()
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
		},
	}
	var currency, reason string
	pause := &cobra.Command{
		Use:   "pause",
		Short: "Stop withdrawals of a currency until resumed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			cur := strings.ToUpper(strings.TrimSpace(currency))
			if cur == "" || strings.TrimSpace(reason) == "" {
				return errors.New("--currency and --reason are required")
			}
			pg, err := stores.OpenPostgres(cmd.Context(), cfg.Postgres.DSN)
			if err != nil {
				return err
			}
			defer pg.Close()
			added, err := sweep.Pause(cmd.Context(), pg, cur, "operator: "+reason)
			if err != nil {
				return err
			}
			if !added {
				fmt.Fprintf(cmd.OutOrStdout(), "withdrawals of %s were already paused\n", cur)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "withdrawals of %s paused\n", cur)
			return nil
		},
	}
	resume := &cobra.Command{
		Use:   "resume",
		Short: "Let withdrawals of a currency go out again",
		Long: `Lifts the pause of --currency. The sweepers' next solvency check pauses it again if the
hot wallet still does not cover what the ledger owes: run "sluice ledger check" first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			cur := strings.ToUpper(strings.TrimSpace(currency))
			if cur == "" {
				return errors.New("--currency is required")
			}
			pg, err := stores.OpenPostgres(cmd.Context(), cfg.Postgres.DSN)
			if err != nil {
				return err
			}
			defer pg.Close()
			done, err := sweep.Resume(cmd.Context(), pg, cur)
			if err != nil {
				return err
			}
			if !done {
				fmt.Fprintf(cmd.OutOrStdout(), "withdrawals of %s were not paused\n", cur)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "withdrawals of %s resumed\n", cur)
			return nil
		},
	}
	for _, c := range []*cobra.Command{pause, resume} {
		c.Flags().StringVar(&currency, "currency", "", "the currency (BTC, LTC, ETH, USDT, ...)")
	}
	pause.Flags().StringVar(&reason, "reason", "", "why, for the other operators and the logs")
	cmd.AddCommand(list, pause, resume)
	return cmd
}
