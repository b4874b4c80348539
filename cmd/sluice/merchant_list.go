package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/merchant"
)

// The operator's listings of merchants and their keys: settings, never
// secrets (the webhook secret, API keys' hashes).

func newMerchantListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every merchant: API keys, webhook endpoints, deliveries pending and failed",
		Long: `Lists every merchant with its API keys (active of all: not revoked, not expired), its
webhook endpoints (one per event kind), and its webhook deliveries pending (including those
waiting for a retry) and failed (given up). "sluice merchant show ID" has the details.`,
		Example: `  sluice merchant list
  sluice merchant list --json | jq '.[] | select(.deliveries_failed > 0) | .id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withLedger(cmd, func(_ *config.Config, pg *pgxpool.Pool) error {
				ms, err := merchant.List(cmd.Context(), pg)
				if err != nil {
					return err
				}
				if asJSON {
					if ms == nil {
						ms = []merchant.Summary{}
					}
					return printJSON(cmd, ms)
				}
				if len(ms) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no merchants (sluice merchant create adds one)")
					return nil
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tCREATED\tKEYS\tENDPOINTS\tPENDING\tFAILED")
				for _, m := range ms {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%d\t%d\t%d\n", m.ID, oneLine(m.Name), m.CreatedAt.UTC().Format(time.RFC3339),
						m.Active, m.Keys, m.Endpoints, m.Pending, m.Failed)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newMerchantShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a merchant: webhook endpoints, confirmations, settlement and balance per currency, API keys (no secrets)",
		Long: `Shows one merchant as the operator needs it: its webhook endpoints and methods per event
kind; per currency the confirmations its deposits need (its own or the default), where
confirmed deposits are swept (settle to an address, or the hot wallet as its balance), batching,
the service fee and its balance (merchant_balance in the ledger: hot-wallet sweeps less
withdrawals and their fees, the same number withdrawals are checked against); its API keys by
id and prefix with scopes, networks, expiry and state. No secret is shown: neither the webhook
secret nor any part of a key but its prefix.`,
		Example: `  sluice merchant show 3
  sluice merchant show 3 --json | jq .balances`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := merchantIDArg(args[0])
			if err != nil {
				return err
			}
			return withLedger(cmd, func(cfg *config.Config, pg *pgxpool.Pool) error {
				reg, err := chain.New(cfg)
				if err != nil {
					return err
				}
				d, err := merchant.Show(cmd.Context(), pg, id, reg.Currencies())
				if err != nil {
					return err
				}
				if asJSON {
					if d.Keys == nil {
						d.Keys = []merchant.Key{}
					}
					return printJSON(cmd, d)
				}
				return printMerchant(cmd.OutOrStdout(), d)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (balances in base units and as decimals)")
	return cmd
}

func printMerchant(out io.Writer, d merchant.Detail) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "merchant\t%d\n", d.ID)
	fmt.Fprintf(tw, "name\t%s\n", oneLine(d.Name))
	fmt.Fprintf(tw, "created\t%s\n", d.CreatedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "key account\t%d\n", d.KeyAccount)
	fmt.Fprintf(tw, "convert\t%s\n", dashIfEmpty(d.ConvertCurrency))
	fmt.Fprintf(tw, "watch-only\t%s\n", dashIfEmpty(strings.Join(d.WatchOnly, ",")))
	secret := "stored in plain text (no secrets.key_file when it was set)"
	if d.SecretEncrypted {
		secret = "encrypted at rest"
	}
	if d.SecretRotated != nil {
		secret += ", rotated " + d.SecretRotated.UTC().Format(time.RFC3339)
	}
	if d.PreviousUntil != nil {
		secret += ", the previous one also signs until " + d.PreviousUntil.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "webhook secret\t%s\n", secret)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "WEBHOOK\tMETHOD\tURL")
	for _, k := range merchant.Kinds {
		if e, ok := d.Webhooks[k]; ok {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", k, e.Method, e.URL)
		} else {
			fmt.Fprintf(tw, "%s\t-\t(not sent)\n", k)
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "CURRENCY\tCONFIRMATIONS\tSETTLE TO\tBATCH\tMIN SWEEP\tFEE\tFEE FIXED\tFEE MIN\tBALANCE")
	for i, c := range d.Confirmations {
		cur := c.Currency
		s, b := d.Settlements[i], d.Balances[i]
		confs := strconv.Itoa(c.Confirmations)
		if c.Default {
			confs += " (default)"
		}
		dec := b.Decimals
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cur, confs, settleTo(s.Address), s.BatchWindow,
			amount.Format(s.MinAmount, dec), feePercent(s.FeePercent), amount.Format(s.FeeFixed, dec), amount.Format(s.FeeMin, dec), b.Decimal())
	}
	fmt.Fprintln(tw)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(d.Keys) == 0 {
		_, err := fmt.Fprintln(out, "no API keys")
		return err
	}
	return printKeys(out, d.Keys, false)
}

func settleTo(address string) string {
	if address == "" {
		return "hot wallet"
	}
	return address
}

// feePercent shows the ledger's fee fraction ("0.015") as a percent ("1.5%").
func feePercent(fraction string) string {
	v, err := amount.Parse(fraction, 4)
	if err != nil {
		return fraction
	}
	return amount.Format(v, 2) + "%"
}

func newMerchantKeyListCmd() *cobra.Command {
	var id int64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API keys of every merchant or one: id, prefix, name, scopes, networks, expiry, state (never secrets)",
		Long: `Lists API keys by merchant and id. A key is shown by its prefix (the part after sluice_,
which the API logs too); the key itself is never stored, only its hash, which is not shown
either. STATE is active, expired or revoked.`,
		Example: `  sluice merchant key list
  sluice merchant key list --merchant 3 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withLedger(cmd, func(_ *config.Config, pg *pgxpool.Pool) error {
				ks, err := merchant.Keys(cmd.Context(), pg, id)
				if err != nil {
					return err
				}
				if asJSON {
					if ks == nil {
						ks = []merchant.Key{}
					}
					return printJSON(cmd, ks)
				}
				if len(ks) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no API keys")
					return nil
				}
				return printKeys(cmd.OutOrStdout(), ks, true)
			})
		},
	}
	cmd.Flags().Int64Var(&id, "merchant", 0, "one merchant's keys (default every merchant's)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printKeys(out io.Writer, ks []merchant.Key, withMerchant bool) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if withMerchant {
		fmt.Fprint(tw, "MERCHANT\t")
	}
	fmt.Fprintln(tw, "KEY_ID\tPREFIX\tNAME\tSCOPES\tNETWORKS\tRATE\tCREATED\tEXPIRES\tSTATE")
	for _, k := range ks {
		if withMerchant {
			fmt.Fprintf(tw, "%d\t", k.MerchantID)
		}
		nets := make([]string, len(k.Networks))
		for i, n := range k.Networks {
			nets[i] = n.String()
		}
		networks, rate, expires := strings.Join(nets, ","), strconv.Itoa(k.RateLimit), "never"
		if networks == "" {
			networks = "anywhere"
		}
		if k.RateLimit == 0 {
			rate = "default"
		}
		if k.ExpiresAt != nil {
			expires = k.ExpiresAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, dashIfEmpty(oneLine(k.Name)), strings.Join(k.Scopes, ","),
			networks, rate, k.CreatedAt.UTC().Format(time.RFC3339), expires, k.State)
	}
	return tw.Flush()
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a name a merchant chose from breaking the table.
func oneLine(s string) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}
