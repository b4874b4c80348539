package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/payments/rates"
	"github.com/sluicepay/sluice/payments/webhook"
	"github.com/sluicepay/sluice/stores"
)

func newRatesCmd() *cobra.Command {
	var refresh, asJSON bool
	cmd := &cobra.Command{
		Use:   "rates",
		Short: "Show the cached fiat prices of the configured currencies in USD and EUR, their source and age",
		Long: `Prints the fiat prices in the Redis cache that webhook conversions (convert_price,
converted_amount) and the litepay 1 USD minimum use, for every configured currency (the
chains and tokens of the configuration: BTC, LTC, ETH, USDT, USDC...) in USD and EUR:
price of one whole coin, the source that gave it, and its age. A currency is priced by its
rate id (USDC for USDC on any chain); one that no source in rates.sources knows has no
price (its conversions are 0). A price older than rates.max_age (default 10m) is never
used: conversions send 0 and forwarding waits until a source answers again.

The running workers ("sluice serve", "sluice webhooks") refresh the prices every
rates.refresh (default 1m), from rates.sources in order (coingecko, kraken, coinbase by
default); --refresh fetches them now first.`,
		Example: `  sluice rates
  sluice rates --refresh --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfigAndLogger(cmd)
			if err != nil {
				return err
			}
			rdb, err := stores.OpenRedis(cfg.Redis.URL)
			if err != nil {
				return err
			}
			defer rdb.Close()
			svc, err := newRates(cfg, rdb, nil, nil, log)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if refresh {
				if err := svc.Refresh(ctx); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "sluice: refresh:", err)
				}
			}
			type row struct {
				Currency   string  `json:"currency"`
				RateID     string  `json:"rate_id"`
				Fiat       string  `json:"fiat"`
				Price      string  `json:"price"`
				Source     string  `json:"source"`
				At         string  `json:"at,omitempty"`
				AgeSeconds float64 `json:"age_s"`
				Fresh      bool    `json:"fresh"`
			}
			var rows []row
			priced := svc.Pairs()
			for _, a := range svc.Assets() {
				for _, f := range rates.Fiats {
					x := row{Currency: a.Code, RateID: a.RateID, Fiat: f, Price: "-", Source: "-", AgeSeconds: -1}
					if slices.Contains(priced, rates.Pair{RateID: a.RateID, Fiat: f}) {
						r, ok, err := svc.Cached(ctx, a.Code, f)
						if err != nil {
							return err
						}
						if ok {
							age := time.Since(r.At)
							x.Price, x.Source, x.At = r.Price, r.Source, r.At.UTC().Format(time.RFC3339)
							x.AgeSeconds, x.Fresh = age.Round(time.Second).Seconds(), age <= cfg.Rates.MaxAge
						}
					}
					rows = append(rows, x)
				}
			}
			if un := svc.Unpriced(); len(un) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "sluice: no source in rates.sources prices %s in every fiat currency: their conversions are 0\n", strings.Join(un, ", "))
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CURRENCY\tFIAT\tPRICE\tSOURCE\tAGE\tUSABLE")
			for _, x := range rows {
				age := "-"
				if x.AgeSeconds >= 0 {
					age = (time.Duration(x.AgeSeconds) * time.Second).String()
				}
				usable := "no"
				if x.Fresh {
					usable = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Currency, x.Fiat, x.Price, x.Source, age, usable)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&refresh, "refresh", false, "fetch every price from the sources first")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// newRates builds the fiat rate service of cfg.Rates for the currencies cfg
// configures (the chain registry). db, when not nil, is the ledger its
// conversions fix deposit rates in; reg may be nil.
func newRates(cfg *config.Config, rdb redis.Cmdable, db rates.DB, reg prometheus.Registerer, log *slog.Logger) (*rates.Service, error) {
	chains, err := chain.New(cfg)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	var sources []rates.Source
	for i, s := range cfg.Rates.Sources {
		src, err := rates.NewSource(s.Name, s.URL, client)
		if err != nil {
			return nil, cfg.Errorf(fmt.Sprintf("rates.sources[%d]", i), "%w", err)
		}
		sources = append(sources, src)
	}
	var m *rates.Metrics
	if reg != nil {
		m = rates.NewMetrics(reg)
	}
	return rates.New(rates.Options{Redis: rdb, DB: db, Sources: sources, Assets: rates.AssetsOf(chains.Currencies()), MaxAge: cfg.Rates.MaxAge,
		Refresh: cfg.Rates.Refresh, Log: log.With("worker", "rates"), Metrics: m})
}

// startRates runs the fiat rates for webhook delivery: the converter for
// webhook.Deps (nil when rates.sources is empty) with its refresh loop
// running until stop is called or ctx ends.
func startRates(ctx context.Context, cfg *config.Config, db rates.DB, reg prometheus.Registerer, log *slog.Logger) (conv webhook.Converter, stop func(), err error) {
	if len(cfg.Rates.Sources) == 0 {
		log.Info("fiat rates are off (rates.sources is empty): webhook conversions are 0")
		return nil, func() {}, nil
	}
	rdb, err := stores.OpenRedis(cfg.Redis.URL)
	if err != nil {
		return nil, nil, err
	}
	svc, err := newRates(cfg, rdb, db, reg, log)
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = svc.Run(ctx)
	}()
	return svc, func() { cancel(); <-done; rdb.Close() }, nil
}
