package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/api"
	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/health"
	"github.com/sluicepay/sluice/indexer"
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
	chains, err := chain.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	ledger := &payments.Ledger{DB: st.PG, Chains: chains, Keys: keys, Networks: payments.NetworksFromConfig(cfg)}
	ws := &watchSets{st: st, ctx: ctx, log: log}
	ledger.Watch = ws.add

	currencies := map[string]api.Currency{}
	gate := &health.SyncGate{DB: st.PG, Tips: map[string]func(context.Context) (int64, error){}}
	var closers []func()
	reg, err := chain.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range reg.Chains() {
		switch c.Family {
		case chain.Bitcoin:
			node, err := bitcoin.NewNode(c.Key, cfg.Chains.BitcoinChain(c.Key).RPC, nil)
			if err != nil {
				return nil, nil, err
			}
			gate.Tips[c.Key] = func(ctx context.Context) (int64, error) {
				ci, err := node.BlockchainInfo(ctx)
				return ci.Blocks, err
			}
		case chain.EVM:
			e := cfg.Chains.EVMChain(c.Key)
			url := e.RPC
			if url == "" {
				url = e.WS
			}
			node, err := ethereum.Dial(ctx, c.Key, url, nil)
			if err != nil {
				return nil, nil, err
			}
			closers = append(closers, node.Close)
			gate.Tips[c.Key] = func(ctx context.Context) (int64, error) {
				h, _, err := node.Head(ctx, "latest")
				return int64(h), err
			}
		}
	}
	for _, c := range reg.Currencies() {
		ch, _ := reg.Chain(c.Chain)
		currencies[c.Code] = api.Currency{Currency: c.Code, Chain: c.Chain, Network: ch.Network, Decimals: c.Decimals,
			Confirmations: c.Confirmations, Contract: c.Contract}
	}
	pols, err := withdrawalPolicies(cfg)
	if err != nil {
		return nil, nil, err
	}
	for code, cur := range currencies {
		if p, ok := pols[code]; ok {
			cur.Policy = p
			cur.WithdrawalMinimum = amount.Format(p.Minimum, cur.Decimals)
			cur.WithdrawalFeeReserve = amount.Format(p.FeeReserve, currencies[p.FeeCurrency].Decimals)
			cur.WithdrawalFeeCurrency = p.FeeCurrency
			currencies[code] = cur
		}
	}
	m := &api.Merchant{
		Ledger: ledger, Currencies: currencies, Synced: gate.Synced,
		Limiter:         &merchant.RateLimiter{Redis: st.Redis, Default: cfg.API.RateLimit},
		ReceiveFee:      cfg.API.ReceiveFeePercent,
		ReceiveMerchant: cfg.API.ReceiveMerchant,
		CheckTarget:     targetCheck(cfg),
		CheckDomain:     func(ctx context.Context, u string) error { return webhook.CheckDomain(ctx, st.PG, u) },
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
// address joins it right after the ledger commit. When that fails (Redis
// down) the wallet stays created, since the ledger is the truth; the address
// is kept here and retried until Redis answers, and then the chain's guard
// (in the indexing process) is asked to reconcile the blocks since the
// failure, so a payment made meanwhile is found in seconds.
type watchSets struct {
	st       *stores.Set
	ctx      context.Context // the process's: retries outlive the request
	log      *slog.Logger
	mu       sync.Mutex
	sets     map[string]*watch.Set
	pending  map[string]*pendingAdds // by chain
	retrying bool                    // a retry goroutine runs
}

// pendingAdds are the addresses of a chain whose Add failed, and the lowest
// indexed height at a failure.
type pendingAdds struct {
	from  int64
	addrs []string
}

// watchRetry is how often failed adds are tried again.
const watchRetry = 2 * time.Second

func (w *watchSets) set(ctx context.Context, chain string) (*watch.Set, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.sets[chain]; s != nil {
		return s, nil
	}
	s, err := watch.Open(ctx, w.st.Redis, chain, watch.Config{})
	if err != nil {
		return nil, err
	}
	if w.sets == nil {
		w.sets = map[string]*watch.Set{}
	}
	w.sets[chain] = s
	return s, nil
}

func (w *watchSets) add(ctx context.Context, wl payments.Wallet) error {
	s, err := w.set(ctx, wl.Chain)
	if err == nil {
		if err = s.Add(ctx, wl.Address); err == nil {
			return nil
		}
	}
	// Payments to the new address come in blocks after the last matched one.
	from, herr := indexer.MatchedHeight(ctx, w.st.PG, wl.Chain)
	if herr != nil {
		from = 0 // unknown: the guard reconciles as deep as it may
	}
	w.mu.Lock()
	if w.pending == nil {
		w.pending = map[string]*pendingAdds{}
	}
	p := w.pending[wl.Chain]
	if p == nil {
		p = &pendingAdds{from: from}
		w.pending[wl.Chain] = p
	}
	p.from = min(p.from, max(from, 0))
	p.addrs = append(p.addrs, wl.Address)
	start := !w.retrying
	w.retrying = true
	w.mu.Unlock()
	w.log.Warn("wallet created in the ledger but not yet in the watch set; it is added, and the blocks since height from reconciled, when Redis answers",
		"chain", wl.Chain, "address", wl.Address, "from", from, "err", err)
	if start {
		go w.retry()
	}
	return err
}

// retry adds the pending addresses every watchRetry until all are in, then
// asks each chain's guard for a repair from the lowest failure height.
func (w *watchSets) retry() {
	t := time.NewTicker(watchRetry)
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			w.mu.Lock()
			w.retrying = false
			w.mu.Unlock()
			return
		case <-t.C:
		}
		w.mu.Lock()
		todo := w.pending
		w.pending = nil
		w.mu.Unlock()
		for chain, p := range todo {
			if err := w.flush(chain, p); err != nil {
				w.mu.Lock()
				if w.pending == nil {
					w.pending = map[string]*pendingAdds{}
				}
				if q := w.pending[chain]; q != nil { // failed again meanwhile
					p.from = min(p.from, q.from)
					p.addrs = append(p.addrs, q.addrs...)
				}
				w.pending[chain] = p
				w.mu.Unlock()
				continue
			}
			w.log.Info("wallets whose watch add failed are watched now; the guard reconciles the blocks since the failure",
				"chain", chain, "wallets", len(p.addrs), "from", p.from)
		}
		w.mu.Lock()
		done := len(w.pending) == 0
		if done {
			w.retrying = false
		}
		w.mu.Unlock()
		if done {
			return
		}
	}
}

func (w *watchSets) flush(chain string, p *pendingAdds) error {
	ctx, cancel := context.WithTimeout(w.ctx, 30*time.Second)
	defer cancel()
	s, err := w.set(ctx, chain)
	if err != nil {
		return err
	}
	if err := s.Add(ctx, p.addrs...); err != nil {
		return err
	}
	return s.RequestRepair(ctx, p.from)
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
