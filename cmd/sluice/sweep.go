package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/rpc"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/amount"
	chainreg "github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/payments/rates"
	"github.com/sluicepay/sluice/payments/sweep"
	btcsweep "github.com/sluicepay/sluice/payments/sweep/bitcoin"
	ethsweep "github.com/sluicepay/sluice/payments/sweep/ethereum"
	"github.com/sluicepay/sluice/stores"
)

func newSweepCmd() *cobra.Command {
	var chains []string
	var metricsListen string
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Move confirmed deposits to settlement addresses, the hot wallet or litepay destinations, and pay withdrawals",
		Long: `Runs the sweepers of the configured chains until stopped ("sluice serve" runs them too
when sweeps.enabled is set). Each round plans jobs for confirmed deposits (per merchant and
currency: the settlement address or the operator's hot wallet; litepay receive addresses to
their destination, payments under 1 USD kept as donations), signs them with keys derived
from payments.seed_file, stores the signed transaction, broadcasts it, and follows it to
sweeps.confirmations. A crash anywhere repeats the step with the same bytes: nothing is
sent twice, nothing is lost. Service fees go to sweeps.fee_addresses. A Bitcoin-family
transaction still unconfirmed after sweeps.bump_after (default 1h) is replaced (RBF) by
one paying a higher fee, up to sweeps.fee_rate_ceiling; whichever the chain mines counts.`,
		Example: `  eval "$(sluice stack env)" && sluice sweep --chain btc,ltc,eth
  sluice sweep --metrics-listen 127.0.0.1:9104`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfigAndLogger(cmd)
			if err != nil {
				return err
			}
			checks, err := workerChecks(cmd.Context(), cfg, chains, "postgres", "redis")
			if err != nil {
				return err
			}
			reg, stop, err := workerMetrics("sweep", metricsListen, log, checks)
			if err != nil {
				return err
			}
			defer stop()
			return runSweepers(cmd.Context(), cfg, reg, log, chains)
		},
	}
	cmd.Flags().StringSliceVar(&chains, "chain", nil, "chains to sweep (btc, ltc, eth); default every configured chain")
	addMetricsFlag(cmd, &metricsListen, "127.0.0.1:9104")
	cmd.AddCommand(newSweepJobsCmd())
	return cmd
}

// runSweepers runs one sweep runner per chain until ctx ends.
func runSweepers(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger, chains []string) error {
	keys, err := payments.KeysFromConfig(cfg)
	if err != nil {
		return err
	}
	sk, ok := keys.(payments.SeedKeys)
	if !ok {
		return errors.New("sweeping needs payments.seed_file (SLUICE_SEED_FILE): the deposit keys come from it")
	}
	run, _, err := chainsToRun(cfg, chains)
	if err != nil {
		return err
	}
	chains = chainKeys(run)
	st, err := openStores(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := pinCurrencies(ctx, cfg, st.PG); err != nil {
		return err
	}
	minimum, stop := sweepMinimum(ctx, cfg, st, reg, log)
	defer stop()
	metrics := sweep.NewMetrics(reg)
	var wg sync.WaitGroup
	errs := make([]error, len(chains))
	for i, c := range chains {
		impl, hot, err := sweepChain(ctx, cfg, st.PG, sk, c, reg, log)
		if err != nil {
			return err
		}
		r := &sweep.Runner{DB: st.PG, Chain: c, Impl: impl, Log: log.With("chain", c, "worker", "sweep"), Metrics: metrics,
			Interval: cfg.Sweeps.Interval, Confirmations: int64(cfg.Sweeps.Confirmations), BumpAfter: max(cfg.Sweeps.BumpAfter, 0),
			SolvencyInterval: cfg.Sweeps.SolvencyInterval, Currencies: slices.Sorted(maps.Keys(hot)),
			Operator: sweep.Operator{FeeAddress: cfg.Sweeps.FeeAddresses, HotWallet: hot, Minimum: minimum}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.Run(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sweepChain builds one chain's signer and its hot wallet addresses.
func sweepChain(ctx context.Context, cfg *config.Config, db *pgxpool.Pool, sk payments.SeedKeys, chain string,
	reg prometheus.Registerer, log *slog.Logger) (sweep.Chain, map[string]string, error) {
	switch chainreg.FamilyOf(chain) {
	case chainreg.Bitcoin:
		bc := cfg.Chains.BitcoinChain(chain)
		if !bc.IsEnabled() {
			return nil, nil, fmt.Errorf("--chain %s: chains.%s is not configured", chain, chain)
		}
		impl, err := btcsweep.New(chain, bc.Network, bc.RPC, sk.Seed,
			btcsweep.WithFeeRates(float64(cfg.Sweeps.FeeRateFloor), float64(cfg.Sweeps.FeeRateCeiling)))
		if err != nil {
			return nil, nil, err
		}
		hot, err := btcsweep.HotWalletAddress(sk.Seed, chain, bc.Network)
		if err != nil {
			return nil, nil, err
		}
		return impl, map[string]string{strings.ToUpper(chain): hot}, nil
	case chainreg.EVM:
		e := cfg.Chains.EVMChain(chain)
		if !e.IsEnabled() {
			return nil, nil, fmt.Errorf("--chain %s: chains.%s is not configured", chain, chain)
		}
		url := e.RPC
		if url == "" {
			url = e.WS
		}
		node, err := rpc.DialContext(ctx, url)
		if err != nil {
			return nil, nil, fmt.Errorf("eth node at %s: %w", url, err)
		}
		chains, err := chainreg.New(cfg)
		if err != nil {
			return nil, nil, err
		}
		// the tank's floor in the chain's own coin: its section's, else sweeps.gas_tank_low
		lowText, lowKey := cfg.Sweeps.GasTankLow, "sweeps.gas_tank_low"
		if e.GasTankLow != "" {
			lowText, lowKey = e.GasTankLow, "chains."+chain+".gas_tank_low"
		}
		coin, _ := chains.Lookup(chains.NativeOf(chain))
		low, err := amount.Parse(lowText, coin.Decimals)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", lowKey, err)
		}
		var tokens []ethsweep.Token
		for _, c := range chains.OnChain(chain) {
			if c.IsToken() {
				tokens = append(tokens, ethsweep.Token{Symbol: c.Code, Contract: c.Contract, Decimals: c.Decimals, KeyBranch: c.KeyBranch})
			}
		}
		ch, ok := chains.Chain(chain)
		if !ok {
			return nil, nil, fmt.Errorf("--chain %s: not in the chain registry", chain)
		}
		maxFee := new(big.Int).Mul(big.NewInt(cfg.Sweeps.MaxFeePerGasGwei), big.NewInt(1_000_000_000))
		// NewMetrics returns the collectors already registered for another EVM chain: the chain is a label
		impl, err := ethsweep.New(ctx, node, db, sk.Seed, ethsweep.Config{Chain: chain, Network: e.Network, ChainID: e.ChainID,
			Native: ch.Native, Tokens: tokens, MaxFeePerGas: maxFee, GasTankLow: low, Metrics: ethsweep.NewMetrics(reg),
			Log: log.With("chain", chain)})
		if err != nil {
			return nil, nil, err
		}
		hot, err := ethsweep.HotWalletAddress(sk.Seed, e.Network)
		if err != nil {
			return nil, nil, err
		}
		go impl.WatchGasTank(ctx, time.Minute) // sluice_gas_tank_balance_wei, sluice_gas_tank_low
		hots := map[string]string{ch.Native: hot}
		for _, t := range tokens {
			hots[t.Symbol] = hot
		}
		return impl, hots, nil
	}
	return nil, nil, fmt.Errorf("--chain %s: not a configured chain", chain)
}

// sweepMinimum is litepay's 1 USD minimum from the fiat rates; nil (every
// payment forwarded) when rates are off.
func sweepMinimum(ctx context.Context, cfg *config.Config, st *stores.Set, reg prometheus.Registerer, log *slog.Logger) (
	func(ctx context.Context, currency string, units *big.Int) (bool, error), func()) {
	if len(cfg.Rates.Sources) == 0 {
		log.Warn("fiat rates are off: litepay payments are forwarded whatever their value")
		return nil, func() {}
	}
	svc, err := newRates(cfg, st.Redis, st.PG, reg, log)
	if err != nil {
		log.Warn("fiat rates unavailable: litepay forwarding waits", "err", err)
		return func(context.Context, string, *big.Int) (bool, error) { return false, err }, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() { _ = svc.Run(ctx) }()
	return func(ctx context.Context, currency string, units *big.Int) (bool, error) {
		ok, _, err := svc.MeetsMinimum(ctx, currency, units, rates.MinimumUSD)
		return ok, err
	}, cancel
}

// withdrawalPolicies is each configured currency's withdrawal minimum
// (sweeps.withdrawal_minimum, else the registry's) and network fee reserve
// (from sweeps.fee_rate_ceiling and max_fee_per_gas_gwei), paid in its
// chain's own coin.
func withdrawalPolicies(cfg *config.Config) (map[string]sweep.Policy, error) {
	reg, err := chainreg.New(cfg)
	if err != nil {
		return nil, err
	}
	out := map[string]sweep.Policy{}
	maxFee := new(big.Int).Mul(big.NewInt(cfg.Sweeps.MaxFeePerGasGwei), big.NewInt(1_000_000_000))
	for _, c := range reg.Currencies() {
		v := c.Minimum
		if s, ok := cfg.Sweeps.WithdrawalMinimum[c.Code]; ok {
			v = s
		}
		m, err := amount.Parse(v, c.Decimals)
		if err != nil {
			return nil, fmt.Errorf("sweeps.withdrawal_minimum.%s: %w", c.Code, err)
		}
		fee, _ := reg.FeeCurrency(c.Code)
		p := sweep.Policy{Chain: c.Chain, FeeCurrency: fee.Code, Minimum: m}
		switch c.Family {
		case chainreg.Bitcoin:
			p.FeeReserve = btcsweep.WithdrawalFeeReserve(cfg.Sweeps.FeeRateCeiling)
		case chainreg.EVM:
			p.FeeReserve = ethsweep.WithdrawalFeeReserve(maxFee, c.IsToken())
		}
		out[c.Code] = p
	}
	return out, nil
}
