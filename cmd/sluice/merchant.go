package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/internal/secrets"
	"github.com/sluicepay/sluice/merchant"
	"github.com/sluicepay/sluice/payments"
)

func newMerchantCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "merchant", Short: "Create merchants, their API keys and watch-only keys"}
	cmd.AddCommand(newMerchantCreateCmd(), newMerchantUpdateCmd(), newMerchantKeyCmd(), newMerchantXPubCmd())
	cmd.AddCommand(newMerchantRotateSecretCmd())
	cmd.AddCommand(newMerchantListCmd(), newMerchantShowCmd())
	return cmd
}

// keyFlags are the options of an API key, shared by merchant create and key create.
type keyFlags struct {
	name, expires string
	scopes, cidrs []string
	rate          int
}

func (k *keyFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&k.name, "key-name", "", "a label for the API key")
	cmd.Flags().StringSliceVar(&k.scopes, "scope", nil, "what the key may do: wallet, receive, read, webhooks, withdraw (default all)")
	cmd.Flags().StringSliceVar(&k.cidrs, "allow-ip", nil, "IPs or CIDRs the key may be used from (default anywhere); withdrawals need a binding narrower than 0.0.0.0/0 or ::/0")
	cmd.Flags().StringVar(&k.expires, "expires", "", "when the key expires: a duration (720h) or a time (2027-01-31T00:00:00Z); default never")
	cmd.Flags().IntVar(&k.rate, "rate-limit", 0, "requests per second for this key (default api.rate_limit)")
}

func (k *keyFlags) spec() (merchant.KeySpec, error) {
	nets, err := merchant.ParseNetworks(k.cidrs)
	if err != nil {
		return merchant.KeySpec{}, fmt.Errorf("--allow-ip: %w", err)
	}
	exp, err := merchant.ParseExpiry(k.expires, time.Now())
	if err != nil {
		return merchant.KeySpec{}, fmt.Errorf("--expires: %w", err)
	}
	return merchant.KeySpec{Name: k.name, Scopes: k.scopes, Networks: nets, RateLimit: k.rate, ExpiresAt: exp}, nil
}

func registerSettleFlags(cmd *cobra.Command, f *merchant.SettlementFlags) {
	cmd.Flags().StringArrayVar(&f.Settle, "settle", nil, "CURRENCY=ADDRESS: sweep confirmed deposits there (default: the operator's hot wallet, as the merchant's balance); repeatable")
	cmd.Flags().StringArrayVar(&f.Fee, "fee", nil, "CURRENCY=PERCENT: the operator's service fee, e.g. BTC=1.5; repeatable")
	cmd.Flags().StringArrayVar(&f.FeeFixed, "fee-fixed", nil, "CURRENCY=AMOUNT: a fixed fee per sweep, added to the percent")
	cmd.Flags().StringArrayVar(&f.FeeMin, "fee-min", nil, "CURRENCY=AMOUNT: the least fee per sweep")
	cmd.Flags().StringArrayVar(&f.BatchWindow, "batch-window", nil, "CURRENCY=DURATION: wait this long after a deposit is ready, to sweep several at once")
	cmd.Flags().StringArrayVar(&f.MinSweep, "min-sweep", nil, "CURRENCY=AMOUNT: deposits wait until they add up to this")
}

// applySettlements stores the settlement changes of the flags.
func applySettlements(cmd *cobra.Command, cfg *config.Config, pg *pgxpool.Pool, id int64, f merchant.SettlementFlags) error {
	f.Chains, _ = chain.New(cfg) // config.Load refused a configuration it cannot build
	changes, err := f.Changes()
	if err != nil {
		return err
	}
	reg, _ := chain.New(cfg) // config.Load refused a configuration it cannot build
	check := func(cur, addr string) error {
		c, ok := reg.Currency(cur)
		if !ok {
			return fmt.Errorf("%s is not configured on this sluice", cur)
		}
		ch, _ := reg.Chain(c.Chain)
		return payments.ValidAddress(c.Chain, ch.Network, addr)
	}
	for cur, ch := range changes {
		if _, err := merchant.UpdateSettlement(cmd.Context(), pg, id, cur, ch, check); err != nil {
			return fmt.Errorf("%s: %w", cur, err)
		}
	}
	return nil
}

// merchantIDArg reads a merchant id given as an argument.
func merchantIDArg(arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("merchant id %q is not a number", arg)
	}
	return id, nil
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newMerchantCreateCmd() *cobra.Command {
	var name, url, method, convert string
	var hooks, confs []string
	var kf keyFlags
	var sf merchant.SettlementFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a merchant with its webhooks and first API key (printed once, as JSON)",
		Long: `Creates a merchant: its own HD account for deposit addresses, its webhook endpoints
(iqpay flavour: one URL for every event unless overridden per event), its confirmation
overrides, a webhook signing secret and an API key. Prints, once, as JSON on stdout:

  {"id": 1, "api_key": "sluice_…", "webhook_secret": "…"}

Neither secret can be shown again: the API key is stored only as a hash; create
another with "sluice merchant key create" if it is lost.

Events: created ("create invoice", status 0), confirmations ("update confirmations",
status 0, also a reorg's return to unconfirmed), confirmed ("confirm deposit",
status 1), failed (status 2), withdrawal (the withdrawal webhook: status 0 sent,
1 confirmed, 2 failed).`,
		Example: `  sluice merchant create --name shop --webhook-url https://shop.example/hooks/sluice
  sluice merchant create --name shop --webhook-url https://shop.example/hook --webhook-method PUT \
      --webhook confirmed=POST:https://shop.example/paid --confirmations BTC=3 --allow-ip 203.0.113.0/24`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withLedger(cmd, func(cfg *config.Config, pg *pgxpool.Pool) error {
				endpoints, err := merchant.ParseWebhooks(url, method, hooks)
				if err != nil {
					return err
				}
				cs, err := merchant.ParseConfirmations(confs)
				if err != nil {
					return err
				}
				ks, err := kf.spec()
				if err != nil {
					return err
				}
				chains, _ := chain.New(cfg) // config.Load refused a configuration it cannot build
				sf.Chains = chains
				if _, err := sf.Changes(); err != nil {
					return err
				}
				secretKey, err := secrets.KeyFromConfig(cfg)
				if err != nil {
					return err
				}
				created, err := merchant.Create(cmd.Context(), pg, merchant.Spec{Name: name, Webhooks: endpoints, Confirmations: cs,
					ConvertCurrency: convert, Key: ks, SecretKey: secretKey, Chains: chains}, targetCheck(cfg))
				if err != nil {
					return err
				}
				if err := printJSON(cmd, created); err != nil {
					return err
				}
				if err := applySettlements(cmd, cfg, pg, created.ID, sf); err != nil {
					return fmt.Errorf("merchant %d created, but its settlement was not set (fix it with sluice merchant update %d): %w", created.ID, created.ID, err)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the merchant's name (required)")
	registerWebhookFlags(cmd, &url, &method, &hooks)
	cmd.Flags().StringArrayVar(&confs, "confirmations", nil, "CURRENCY=N required confirmations (defaults BTC 2, LTC 6, ETH 12, USDT 12); repeatable")
	cmd.Flags().StringVar(&convert, "convert", "", "USD or EUR: add converted amounts to webhooks")
	kf.register(cmd)
	registerSettleFlags(cmd, &sf)
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newMerchantUpdateCmd() *cobra.Command {
	var sf merchant.SettlementFlags
	var url, method string
	var hooks []string
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Change a merchant's webhook endpoints and settlement: where its deposits are swept, batching, the service fee",
		Long: `Changes what the flags name and keeps the rest; prints the merchant's webhook endpoints
and its settlement per currency as JSON. --webhook KIND= (no URL) stops sending that kind.`,
		Example: `  sluice merchant update 1 --settle BTC=bc1q... --fee BTC=1.5 --fee-min BTC=0.00001
  sluice merchant update 1 --settle LTC= --batch-window LTC=1h --min-sweep LTC=0.1   # LTC back to the hot wallet, batched
  sluice merchant update 1 --webhook withdrawal=POST:https://shop.example/withdrawals`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := merchantIDArg(args[0])
			if err != nil {
				return err
			}
			endpoints, err := merchant.ParseWebhooks(url, method, hooks)
			if err != nil {
				return err
			}
			return withLedger(cmd, func(cfg *config.Config, pg *pgxpool.Pool) error {
				if len(endpoints) > 0 {
					if err := merchant.SetWebhooks(cmd.Context(), pg, id, endpoints, targetCheck(cfg)); err != nil {
						return err
					}
				}
				if err := applySettlements(cmd, cfg, pg, id, sf); err != nil {
					return err
				}
				out := struct {
					Webhooks    map[string]merchant.Endpoint `json:"webhooks"`
					Settlements []merchant.Settlement        `json:"settlements"`
				}{}
				if out.Webhooks, err = merchant.Webhooks(cmd.Context(), pg, id); err != nil {
					return err
				}
				reg, _ := chain.New(cfg) // config.Load refused a configuration it cannot build
				for _, cur := range reg.Codes() {
					s, err := merchant.GetSettlement(cmd.Context(), pg, id, cur)
					if err != nil {
						return err
					}
					out.Settlements = append(out.Settlements, s)
				}
				return printJSON(cmd, out)
			})
		},
	}
	registerWebhookFlags(cmd, &url, &method, &hooks)
	registerSettleFlags(cmd, &sf)
	return cmd
}

func registerWebhookFlags(cmd *cobra.Command, url, method *string, hooks *[]string) {
	cmd.Flags().StringVar(url, "webhook-url", "", "where every event goes, deposits' and withdrawals' (unless --webhook overrides one)")
	cmd.Flags().StringVar(method, "webhook-method", "POST", "GET, POST, PUT or DELETE")
	cmd.Flags().StringArrayVar(hooks, "webhook", nil, "EVENT=METHOD:URL for one event (created, confirmations, confirmed, failed, withdrawal); repeatable")
}

func newMerchantKeyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Create or revoke a merchant's API keys"}
	var id int64
	var kf keyFlags
	create := &cobra.Command{
		Use:     "create",
		Short:   "Create an API key (printed once, as JSON)",
		Example: `  sluice merchant key create --merchant 1 --scope wallet,read --allow-ip 203.0.113.7 --expires 2160h`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withLedger(cmd, func(cfg *config.Config, pg *pgxpool.Pool) error {
				ks, err := kf.spec()
				if err != nil {
					return err
				}
				k, err := merchant.CreateKey(cmd.Context(), pg, id, ks)
				if err != nil {
					return err
				}
				return printJSON(cmd, k)
			})
		},
	}
	create.Flags().Int64Var(&id, "merchant", 0, "the merchant's id (required)")
	kf.register(create)
	_ = create.MarkFlagRequired("merchant")
	var rid int64
	revoke := &cobra.Command{
		Use:     "revoke KEY_ID|PREFIX",
		Short:   "Revoke an API key now (by its key_id or its prefix, the part after sluice_)",
		Example: `  sluice merchant key revoke --merchant 1 3f9a0c1d2e4b`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withLedger(cmd, func(cfg *config.Config, pg *pgxpool.Pool) error {
				if err := merchant.RevokeKey(cmd.Context(), pg, rid, args[0]); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "revoked")
				return nil
			})
		},
	}
	revoke.Flags().Int64Var(&rid, "merchant", 0, "the merchant's id (required)")
	_ = revoke.MarkFlagRequired("merchant")
	cmd.AddCommand(create, revoke)
	cmd.AddCommand(newMerchantKeyRotateCmd())
	cmd.AddCommand(newMerchantKeyListCmd())
	return cmd
}

func newMerchantXPubCmd() *cobra.Command {
	var id int64
	var currency string
	cmd := &cobra.Command{
		Use:   "xpub XPUB",
		Short: "Make a merchant's BTC or LTC wallets watch-only: derived from its own BIP84 account key",
		Long: `Registers the merchant's account-level extended public key (zpub/xpub on mainnet,
vpub/tpub on test networks, Ltub/ttub for Litecoin). New wallets of that currency are its
receive addresses 0/index; sluice holds no key to them and never sweeps them. Once a
wallet was derived from the key it cannot change.`,
		Example: `  sluice merchant xpub --merchant 1 --currency BTC zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withLedger(cmd, func(cfg *config.Config, pg *pgxpool.Pool) error {
				chains, _ := chain.New(cfg) // config.Load refused a configuration it cannot build
				l := &payments.Ledger{DB: pg, Chains: chains, Networks: payments.NetworksFromConfig(cfg)}
				if err := l.SetXPub(cmd.Context(), id, currency, args[0]); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "merchant "+strconv.FormatInt(id, 10)+": "+currency+" wallets are watch-only from now on")
				return nil
			})
		},
	}
	cmd.Flags().Int64Var(&id, "merchant", 0, "the merchant's id (required)")
	cmd.Flags().StringVar(&currency, "currency", "", "BTC or LTC (required)")
	_ = cmd.MarkFlagRequired("merchant")
	_ = cmd.MarkFlagRequired("currency")
	return cmd
}
