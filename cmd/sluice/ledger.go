package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/payments/ledger"
	"github.com/sluicepay/sluice/payments/sweep"
)

func newLedgerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "The books: per merchant and currency, and their check against the chain"}
	var merchantID int64
	var asJSON, noSolvency bool
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
exactly what the ledger says and (BTC/LTC) spend exactly its deposits. Then solvency: per
currency, what the operator's hot wallet holds on chain (read from the nodes; needs
payments.seed_file) must cover the sum of merchant balances, and no balance may be negative.
Paused withdrawals are listed. Prints each disagreement; "ledger check: clean" when there is
none. --no-solvency skips the node reads.`,
		Example: `  sluice ledger check
  sluice ledger check --no-solvency   # the chain index only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			st, err := openStores(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			chains, _ := chain.New(cfg) // config.Load refused a configuration it cannot build
			problems, err := ledger.Check(cmd.Context(), st.PG, st.CH, chains)
			if err != nil {
				return err
			}
			if !noSolvency {
				sol, err := solvencyProblems(cmd.Context(), cfg, st.PG)
				if err != nil {
					return err
				}
				problems = append(problems, sol...)
			}
			pauses, err := sweep.Pauses(cmd.Context(), st.PG)
			if err != nil {
				return err
			}
			for _, p := range pauses {
				fmt.Fprintf(cmd.OutOrStdout(), "withdrawals of %s paused since %s: %s\n", p.Currency, p.PausedAt.Format(time.RFC3339), p.Reason)
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
	check.Flags().BoolVar(&noSolvency, "no-solvency", false, "skip comparing the hot wallets on chain with the balances")
	cmd.AddCommand(show, check)
	return cmd
}

// solvencyProblems reads each configured chain's hot wallet from its node
// and compares it with the merchant balances (sweep.CheckSolvency).
func solvencyProblems(ctx context.Context, cfg *config.Config, db *pgxpool.Pool) ([]string, error) {
	keys, err := payments.KeysFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	sk, ok := keys.(payments.SeedKeys)
	if !ok {
		return nil, errors.New("the solvency check needs payments.seed_file (the hot wallets' keys); --no-solvency skips it")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the gas tank watcher sweepChain starts
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var problems []string
	run, _, err := chainsToRun(cfg, nil)
	if err != nil {
		return nil, err
	}
	for _, c := range chainKeys(run) {
		impl, _, err := sweepChain(ctx, cfg, db, sk, c, prometheus.NewRegistry(), log)
		if err != nil {
			return nil, err
		}
		hh, ok := impl.(sweep.HotHolder)
		if !ok {
			continue
		}
		held, err := hh.HotBalances(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s hot wallet: %w", c, err)
		}
		res, err := sweep.CheckSolvency(ctx, db, held)
		if err != nil {
			return nil, err
		}
		for _, s := range res {
			if !s.OK() {
				problems = append(problems, "solvency "+s.String())
			}
		}
	}
	return problems, nil
}
