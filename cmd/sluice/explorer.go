package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/api"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/explorer"
	"github.com/sluicepay/sluice/stores"
)

// indexedChains are the configured chains, Bitcoin family first.
func indexedChains(cfg *config.Config) (bitcoin, all []string) {
	if cfg.Chains.BTC.IsEnabled() {
		bitcoin = append(bitcoin, "btc")
	}
	if cfg.Chains.LTC.IsEnabled() {
		bitcoin = append(bitcoin, "ltc")
	}
	all = append([]string{}, bitcoin...)
	if cfg.Chains.ETH.IsEnabled() {
		all = append(all, "eth")
	}
	return bitcoin, all
}

// explorerDeps is the explorer API over the stores' chain index.
func explorerDeps(cfg *config.Config, st *stores.Set, log *slog.Logger) *api.Explorer {
	_, all := indexedChains(cfg)
	return &api.Explorer{Reader: &explorer.Reader{CH: st.CH}, Chains: all, Log: log.With("worker", "explorer")}
}

// runSpendResolver fills address_spends for the configured Bitcoin-family
// chains until ctx ends (it runs where the indexers run).
func runSpendResolver(ctx context.Context, cfg *config.Config, ch *stores.ClickHouse, reg prometheus.Registerer, log *slog.Logger) {
	chains, _ := indexedChains(cfg)
	if len(chains) == 0 {
		return
	}
	r := &explorer.Resolver{CH: ch, Chains: chains, Log: log.With("worker", "spends"), Height: explorer.NewResolvedGauge(reg)}
	r.Run(ctx)
}
