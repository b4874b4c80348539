package main

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/stores"
)

// freshAddresses makes the ledger hand out only addresses without history:
// each new one is looked up in the chain index first, and new wallets wait
// for a gap scan that moves every address counter past the addresses the
// chain shows as used (after a restored, older ledger backup). The scan runs
// in the background and is retried until it succeeds, so a dependency down
// at start holds wallet creation (ErrNotReady), not the whole server.
func freshAddresses(ctx context.Context, reg prometheus.Registerer, st *stores.Set, ledger *payments.Ledger, log *slog.Logger) {
	currencies := make([]string, 0, len(ledger.Networks))
	for c := range ledger.Networks {
		currencies = append(currencies, c)
	}
	slices.Sort(currencies)
	ledger.Skipped = payments.NewSkippedAddresses(reg, currencies)
	ledger.Log = log
	ledger.Used = func(ctx context.Context, chain string, addrs []string) (map[string]bool, error) {
		return store.UsedAddresses(ctx, st.CH, chain, addrs)
	}
	ready := make(chan struct{})
	ledger.Ready = ready
	go func() {
		for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
			start := time.Now()
			res, err := ledger.GapScan(ctx, payments.DefaultGapLimit, nil)
			if err == nil {
				moved := 0
				for _, r := range res {
					if r.To != r.From {
						moved++
					}
				}
				log.Info("gap scan done: address counters checked against the chain index", "counters", len(res), "moved", moved,
					"took", time.Since(start).Round(time.Millisecond))
				close(ready)
				return
			}
			log.Warn("gap scan failed; new wallets wait for it; retrying", "in", wait, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}()
}
