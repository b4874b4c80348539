package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/payments/webhook"
)

// The operator's view of webhook deliveries across merchants: the same
// delivery log and redelivery the merchant API offers each merchant.

func newWebhooksDeliveriesCmd() *cobra.Command {
	var merchantID int64
	var f webhook.ListFilter
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "deliveries",
		Short: "List webhook deliveries across merchants, newest first: state, attempts, last error",
		Long: `Lists the delivery log of every merchant, or of one with --merchant: the same deliveries
a merchant sees with GET /webhooks/deliveries, with the merchant's id. STATE is pending
(waiting to be sent or retried), delivered, or failed (given up: redeliver it with
"sluice webhooks redeliver"). LAST is the last attempt's HTTP status or error; --json has
every attempt. When more deliveries match than --limit, the command says how to ask for the
next page (--before).`,
		Example: `  sluice webhooks deliveries --state failed
  sluice webhooks deliveries --merchant 3 --state pending --limit 20
  sluice webhooks deliveries --state failed --json | jq -r '.[].merchant_id' | sort | uniq -c`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withLedger(cmd, func(_ *config.Config, pg *pgxpool.Pool) error {
				ds, next, err := webhook.ListAllDeliveries(cmd.Context(), pg, merchantID, f)
				if err != nil {
					return err
				}
				if next != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "more deliveries match: add --before %s for the next page\n", next)
				}
				if asJSON {
					if ds == nil {
						ds = []webhook.MerchantDelivery{}
					}
					return printJSON(cmd, ds)
				}
				if len(ds) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no webhook deliveries match")
					return nil
				}
				return printDeliveries(cmd.OutOrStdout(), ds)
			})
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&merchantID, "merchant", 0, "one merchant's deliveries (default every merchant's)")
	fl.StringVar(&f.State, "state", "", "pending, delivered or failed")
	fl.StringVar(&f.Flavour, "flavour", "", "iqpay, litepay or withdrawal")
	fl.Int64Var(&f.EventID, "event", 0, "the deliveries of this event id (X-Sluice-Event-Id)")
	fl.Int64Var(&f.DepositID, "deposit", 0, "the deliveries of this deposit id")
	fl.Int64Var(&f.WithdrawalID, "withdrawal", 0, "the deliveries of this withdrawal id")
	fl.IntVar(&f.Limit, "limit", 50, fmt.Sprintf("at most this many (up to %d)", webhook.OperatorMaxLimit))
	fl.StringVar(&f.Cursor, "before", "", "deliveries older than this id (the next page, as the previous one said)")
	fl.BoolVar(&asJSON, "json", false, "print JSON, with every attempt")
	return cmd
}

func newWebhooksRedeliverCmd() *cobra.Command {
	var sel webhook.RedeliverSelection
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "redeliver [DELIVERY_ID...]",
		Short: "Send webhook deliveries again now: by delivery id, by event, or every one of a merchant in a state",
		Long: `Re-queues deliveries exactly as a merchant's POST /webhooks/deliveries/:id/redeliver does:
due now, attempts reset, a fresh webhooks.max_age window, to the endpoint the merchant has
configured now (fix the URL first with "sluice merchant update"), still after any earlier
pending event of the same deposit. A running "sluice webhooks" (or "sluice serve") sends them.

Select deliveries by id (arguments), by event id (--event), or in bulk by --state with
--merchant (or --all-merchants); --merchant also restricts ids and events to that merchant.
Everything selected is re-queued in one transaction: an id or event not found changes nothing.
Prints what was re-queued.`,
		Example: `  sluice webhooks redeliver 1042 1043
  sluice webhooks redeliver --event 88
  sluice webhooks redeliver --merchant 3 --state failed   # after the merchant fixed its endpoint
  sluice webhooks redeliver --all-merchants --state failed`,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				id, err := strconv.ParseInt(a, 10, 64)
				if err != nil || id <= 0 {
					return fmt.Errorf("delivery id %q is not a number", a)
				}
				sel.DeliveryIDs = append(sel.DeliveryIDs, id)
			}
			if sel.AllMerchants && sel.MerchantID != 0 {
				return errors.New("--merchant and --all-merchants: give one")
			}
			if sel.State != "" && sel.MerchantID == 0 && !sel.AllMerchants {
				return fmt.Errorf("--state %s redelivers in bulk: name the merchant (--merchant ID) or --all-merchants", sel.State)
			}
			if len(sel.DeliveryIDs) == 0 && len(sel.EventIDs) == 0 && sel.State == "" {
				return errors.New("nothing selected: give delivery ids, --event, or --state with --merchant")
			}
			return withLedger(cmd, func(_ *config.Config, pg *pgxpool.Pool) error {
				ds, err := webhook.RedeliverSelected(cmd.Context(), pg, sel)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd, ds)
				}
				if len(ds) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no webhook deliveries match: nothing re-queued")
					return nil
				}
				if err := printDeliveries(cmd.OutOrStdout(), ds); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "re-queued %d deliveries\n", len(ds))
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.Int64SliceVar(&sel.EventIDs, "event", nil, "the deliveries of these event ids (comma-separated or repeated)")
	fl.Int64Var(&sel.MerchantID, "merchant", 0, "only this merchant's deliveries")
	fl.StringVar(&sel.State, "state", "", "every delivery in this state (pending, delivered, failed) of --merchant, or of --all-merchants")
	fl.BoolVar(&sel.AllMerchants, "all-merchants", false, "with --state: of every merchant")
	fl.BoolVar(&asJSON, "json", false, "print the re-queued deliveries as JSON")
	return cmd
}

func printDeliveries(out io.Writer, ds []webhook.MerchantDelivery) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMERCHANT\tEVENT\tFLAVOUR\tKIND\tSTATE\tATTEMPTS\tNEXT\tLAST\tCREATED\tURL")
	for _, d := range ds {
		next := "-"
		if d.NextAt != nil {
			next = d.NextAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s %s\n", d.ID, d.MerchantID, d.EventID, d.Flavour, d.Kind, d.State,
			d.Attempts, next, lastAttempt(d.Delivery), d.CreatedAt.UTC().Format(time.RFC3339), d.Method, d.URL)
	}
	return tw.Flush()
}

// lastAttempt is the last attempt's outcome in a few words: its HTTP status
// or its error, cut short (--json has it whole).
func lastAttempt(d webhook.Delivery) string {
	s := d.LastError
	if s == "" && d.LastStatus != nil {
		s = "HTTP " + strconv.Itoa(*d.LastStatus)
	}
	s = oneLine(s)
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	if s == "" {
		return "-"
	}
	return strings.TrimSpace(s)
}
