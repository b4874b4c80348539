package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/payments/webhook"
)

func newReceiveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "receive",
		Short: "litepay receive addresses: their callback domains",
	}
	var all, asJSON bool
	domains := &cobra.Command{
		Use:   "domains",
		Short: "List litepay callback domains that fail or are blocked",
		Long: `A callback domain whose callbacks fail (no *ok*, connection errors) without one *ok* for
receive.block_dead_after (default 72h) is blocked, as litepay's spec allows: /api/receive then
refuses callback URLs on it with an error that says why. Callbacks already pending to it go on
until their 100 confirmations; an *ok* from one lifts the block. "unblock" lifts it by hand.`,
		Example: `  sluice receive domains
  sluice receive domains --all --json
  sluice receive domains unblock shop.example`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withLedger(cmd, func(_ *config.Config, pg *pgxpool.Pool) error {
				ds, err := webhook.Domains(cmd.Context(), pg, all)
				if err != nil {
					return err
				}
				if asJSON {
					if ds == nil {
						ds = []webhook.Domain{}
					}
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(ds)
				}
				if len(ds) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no callback domain is failing or blocked")
					return nil
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "DOMAIN\tSTATE\tFAILING SINCE\tFAILURES\tLAST ERROR")
				for _, d := range ds {
					state, since := "failing", "-"
					if d.BlockedAt != nil {
						state = "blocked " + d.BlockedAt.UTC().Format(time.RFC3339)
					} else if d.FailingSince == nil {
						state = "ok"
					}
					if d.FailingSince != nil {
						since = d.FailingSince.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", d.Domain, state, since, d.Failures, d.LastError)
				}
				return tw.Flush()
			})
		},
	}
	domains.Flags().BoolVar(&all, "all", false, "every domain seen, healthy ones too")
	domains.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	unblock := &cobra.Command{
		Use:   "unblock DOMAIN",
		Short: "Let /api/receive take callback URLs on DOMAIN again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withLedger(cmd, func(_ *config.Config, pg *pgxpool.Pool) error {
				done, err := webhook.Unblock(cmd.Context(), pg, args[0])
				if err != nil {
					return err
				}
				if !done {
					return errors.New(args[0] + " is not blocked (sluice receive domains lists the blocked ones)")
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s unblocked\n", args[0])
				return nil
			})
		},
	}
	domains.AddCommand(unblock)
	cmd.AddCommand(domains)
	return cmd
}
