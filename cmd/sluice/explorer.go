package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/api"
	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/explorer"
	"github.com/sluicepay/sluice/indexer"
	"github.com/sluicepay/sluice/stores"
)

// explorerDeps is the explorer API over the stores' chain index.
func explorerDeps(cfg *config.Config, st *stores.Set, log *slog.Logger) *api.Explorer {
	reg, _ := chain.New(cfg) // config.Load refused a configuration it cannot build
	return &api.Explorer{Reader: &explorer.Reader{CH: st.CH}, Chains: chainKeys(reg.Chains()), Log: log.With("worker", "explorer")}
}

// withSpendResolver adds to a Bitcoin-family chain's indexer jobs the
// explorer's spend resolver of that chain: it runs while the indexer does
// (in the process holding the chain's lease), following its index.
func withSpendResolver(build termJobs, chain string, ch *stores.ClickHouse, gauge *prometheus.GaugeVec, log *slog.Logger) termJobs {
	return func(cps indexer.Checkpoints) []func(context.Context) error {
		r := &explorer.Resolver{CH: ch, Chains: []string{chain}, Log: log.With("worker", "spends", "chain", chain), Height: gauge}
		return append(build(cps), func(ctx context.Context) error {
			r.Run(ctx)
			return nil
		})
	}
}
