package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/api"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/health"
	"github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/indexer/ethereum"
	"github.com/sluicepay/sluice/merchant"
	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/payments/webhook"
	"github.com/sluicepay/sluice/stores"
	"github.com/sluicepay/sluice/watch"
)

// merchantAPI wires the merchant routes: the ledger with the seed and the
// watch sets, the enabled currencies, the sync gate and the rate limiter.
func merchantAPI(ctx context.Context, cfg *config.Config, st *stores.Set, log *slog.Logger) (*api.Merchant, func(), error) {
	keys, err := payments.KeysFromConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	if keys == nil {
		log.Warn("no payments.seed_file: custodial wallets cannot be created (watch-only ones can)")
	}
	ledger := &payments.Ledger{DB: st.PG, Keys: keys, Networks: payments.NetworksFromConfig(cfg)}
	ws := &watchSets{st: st}
	ledger.Watch = ws.add

	currencies := map[string]api.Currency{}
	gate := &health.SyncGate{DB: st.PG, Tips: map[string]func(context.Context) (int64, error){}}
	var closers []func()
	for _, b := range []struct {
		cur, chain string
		c          *config.Bitcoin
	}{{"BTC", "btc", cfg.Chains.BTC}, {"LTC", "ltc", cfg.Chains.LTC}} {
		if !b.c.IsEnabled() {
			continue
		}
		node, err := bitcoin.NewNode(b.chain, b.c.RPC, nil)
		if err != nil {
			return nil, nil, err
		}
		currencies[b.cur] = api.Currency{Currency: b.cur, Chain: b.chain, Network: b.c.Network,
			Decimals: amount.Decimals[b.cur], Confirmations: payments.DefaultConfirmations[b.cur]}
		gate.Tips[b.chain] = func(ctx context.Context) (int64, error) {
			ci, err := node.BlockchainInfo(ctx)
			return ci.Blocks, err
		}
	}
	if e := cfg.Chains.ETH; e.IsEnabled() {
		url := e.RPC
		if url == "" {
			url = e.WS
		}
		node, err := ethereum.Dial(ctx, "eth", url, nil)
		if err != nil {
			return nil, nil, err
		}
		closers = append(closers, node.Close)
		currencies["ETH"] = api.Currency{Currency: "ETH", Chain: "eth", Network: e.Network, Decimals: 18,
			Confirmations: payments.DefaultConfirmations["ETH"]}
		for _, t := range e.Tokens {
			currencies[t.Symbol] = api.Currency{Currency: t.Symbol, Chain: "eth", Network: e.Network, Decimals: t.Decimals,
				Confirmations: payments.DefaultConfirmations[t.Symbol], Contract: t.Address}
		}
		gate.Tips["eth"] = func(ctx context.Context) (int64, error) {
			h, _, err := node.Head(ctx, "latest")
			return int64(h), err
		}
	}
	m := &api.Merchant{
		DB: st.PG, Ledger: ledger, Currencies: currencies, Synced: gate.Synced,
		Limiter:         &merchant.RateLimiter{Redis: st.Redis, Default: cfg.API.RateLimit},
		ReceiveFee:      cfg.API.ReceiveFeePercent,
		ReceiveMerchant: cfg.API.ReceiveMerchant,
		CheckTarget:     targetCheck(cfg),
		IPLimits: &merchant.IPLimiter{Redis: st.Redis, Unauthenticated: cfg.API.UnauthenticatedLimit,
			FailedAuth: cfg.API.FailedAuthLimit, Window: cfg.API.IPLimitWindow, Block: cfg.API.FailedAuthBlock},
	}
	return m, func() {
		for _, c := range closers {
			c()
		}
		ws.close()
	}, nil
}

// watchSets opens each chain's watch set on first use: a new wallet's
// address joins it right after the ledger commit.
type watchSets struct {
	st   *stores.Set
	mu   sync.Mutex
	sets map[string]*watch.Set
}

func (w *watchSets) add(ctx context.Context, wl payments.Wallet) error {
	w.mu.Lock()
	s := w.sets[wl.Chain]
	if s == nil {
		var err error
		if s, err = watch.Open(ctx, w.st.Redis, wl.Chain, watch.Config{}); err != nil {
			w.mu.Unlock()
			return err
		}
		if w.sets == nil {
			w.sets = map[string]*watch.Set{}
		}
		w.sets[wl.Chain] = s
	}
	w.mu.Unlock()
	return s.Add(ctx, wl.Address)
}

func (w *watchSets) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.sets {
		s.Close()
	}
}

// targetCheck validates webhook and callback URLs with the configured
// allowances for private networks (validated with the config, so parsing
// cannot fail here).
func targetCheck(cfg *config.Config) merchant.TargetCheck {
	allow, _ := webhook.ParseAllow(cfg.Webhooks.AllowPrivateTargets)
	return func(ctx context.Context, rawURL string) error { return webhook.ValidateTarget(ctx, rawURL, allow) }
}
