package ethsweep

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/internal/promreg"
	"github.com/sluicepay/sluice/payments/keys"
	"github.com/sluicepay/sluice/payments/sweep"
)

// Operator accounts: HD accounts of the master seed that no merchant gets
// (merchants' key_account counts up from 0). Their index 0 ETH key
// (m/44'/60'/account'/0/0) holds the operator's ETH.
const (
	// GasTankAccount holds the gas tank, which tops up token deposit
	// addresses with the ETH their transfers burn.
	GasTankAccount uint32 = 2147483645
	// HotWalletAccount holds the hot wallet, which pays withdrawals (ETH and
	// tokens, its gas from its ETH).
	HotWalletAccount uint32 = 2147483646
)

// GasTankAddress is the gas tank's address (EIP-55): the operator funds it
// with ETH. It is the same on every EVM network and chain; network only
// labels errors.
func GasTankAddress(seed keys.Seed, network string) (string, error) {
	a, err := operatorAddress(seed, defaultChain, network, GasTankAccount)
	return a.Hex(), err
}

// HotWalletAddress is the hot wallet's address (EIP-55), the same on every
// EVM network and chain: the operator's hot_wallet for ETH and every token,
// whose withdrawals it signs.
func HotWalletAddress(seed keys.Seed, network string) (string, error) {
	a, err := operatorAddress(seed, defaultChain, network, HotWalletAccount)
	return a.Hex(), err
}

// defaultChain is the chain key of Config.Chain left empty. EVM keys do not
// depend on the chain, so the operator's addresses are the same on every
// EVM chain.
const defaultChain = "eth"

// defaultNative is the coin of Config.Native left empty.
const defaultNative = "ETH"

func operatorAddress(seed keys.Seed, chain, network string, account uint32) (common.Address, error) {
	s, err := seed.AddressFor(keys.Scheme{Family: keys.EVM, Chain: chain, Network: network}, account, 0)
	if err != nil {
		return common.Address{}, err
	}
	return common.HexToAddress(s), nil
}

// GasTopUp plans the gas for a token job that Sign answered ErrWait: a gas
// job from the gas tank to the job's sending address for what its transfer
// may burn (the estimate plus 20%, at 2 × base fee + tip) less the ETH it
// has to spend. A deposit sweep with a service fee gets the gas of the
// transfer that collects the fee too (FeeJob). nil when no gas is missing,
// for ETH jobs, and while fees are above the ceiling.
func (c *Chain) GasTopUp(ctx context.Context, job *sweep.Job) (*sweep.Job, error) {
	if job == nil || job.Gross == nil || c.native(job.Currency, job.Kind) {
		return nil, nil
	}
	t, err := c.tokenOf(job.Currency)
	if err != nil {
		return nil, fmt.Errorf("sweep %d: %w", job.ID, err)
	}
	from, err := c.senderOf(job)
	if err != nil {
		return nil, err
	}
	s, err := c.state(ctx, from.addr)
	if errors.Is(err, sweep.ErrWait) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sweep %d: %w", job.ID, err)
	}
	contract := common.HexToAddress(t.Contract)
	amount := new(big.Int).Sub(job.Gross, serviceFee(job))
	fee := FeeJob(job)
	if amount.Sign() <= 0 || !common.IsHexAddress(job.Destination) {
		return nil, nil // Sign says what is wrong
	}
	need := new(big.Int)
	for _, leg := range []struct {
		to     string
		amount *big.Int
	}{{job.Destination, amount}, {feeDest(fee), feeAmount(fee)}} {
		if leg.amount == nil {
			continue
		}
		data, err := transferCalldata(common.HexToAddress(leg.to), leg.amount)
		if err != nil {
			return nil, fmt.Errorf("sweep %d: %w", job.ID, err)
		}
		gas, err := c.tokenGas(ctx, from.addr, contract, data)
		if err != nil {
			return nil, fmt.Errorf("sweep %d: %w", job.ID, err)
		}
		need.Add(need, s.fees.cost(gas))
	}
	have := s.spendable()
	if have.Cmp(need) >= 0 {
		return nil, nil
	}
	top := new(big.Int).Sub(need, have)
	c.log.Info("gas top-up needed", "sweep", job.ID, "address", from.addr.Hex(), "has_wei", have.String(), "needs_wei", need.String())
	return &sweep.Job{Chain: c.cfg.Chain, Currency: c.Native(), Kind: sweep.KindGas, Destination: from.addr.Hex(),
		Gross: top, Amount: new(big.Int).Set(top), FeeService: new(big.Int), FeeNetwork: new(big.Int)}, nil
}

func feeDest(j *sweep.Job) string {
	if j == nil {
		return ""
	}
	return j.Destination
}

func feeAmount(j *sweep.Job) *big.Int {
	if j == nil {
		return nil
	}
	return j.Gross
}

// FeeJob is the job that collects a deposit sweep's service fee, which the
// sweep left at the deposit address: the same address (the same inputs, so
// the same key) pays Gross = FeeService to the FeeAddress, the operator
// paying its gas (ETH: Amount = FeeService - FeeNetwork; tokens: exactly
// FeeService, the gas from the gas tank). nil when the sweep has no fee to
// collect. Sign takes it as any sweep.
func FeeJob(job *sweep.Job) *sweep.Job {
	if job == nil || job.FeeService == nil || job.FeeService.Sign() <= 0 || job.FeeAddress == "" {
		return nil
	}
	switch job.Kind {
	case sweep.KindSettle, sweep.KindHot, sweep.KindForward:
	default:
		return nil
	}
	return &sweep.Job{Chain: job.Chain, Currency: job.Currency, MerchantID: job.MerchantID, Kind: sweep.KindSettle,
		Destination: job.FeeAddress, Gross: new(big.Int).Set(job.FeeService), Amount: new(big.Int).Set(job.FeeService),
		FeeService: new(big.Int), FeeNetwork: new(big.Int), AfterSweep: job.ID, Inputs: job.Inputs}
}

// FeeJob makes Chain a sweep.FeeCollector.
func (c *Chain) FeeJob(job *sweep.Job) *sweep.Job { return FeeJob(job) }

// Metrics of the gas tank.
type Metrics struct {
	TankBalance *prometheus.GaugeVec // sluice_gas_tank_balance_wei{chain}
	TankLow     *prometheus.GaugeVec // sluice_gas_tank_low{chain}: 1 under the threshold
}

// NewMetrics registers the gas tank metrics with reg. Each EVM chain's
// Chain may call it with the same reg: the second call returns the
// collectors the first registered (the chain is a label).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{
		TankBalance: promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_gas_tank_balance_wei",
			Help: "The chain's coin in the gas tank that tops up token deposit addresses, in wei (10^-18)."}, []string{"chain"})),
		TankLow: promreg.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_gas_tank_low",
			Help: "1 when the gas tank holds less than sweeps.gas_tank_low: refill it."}, []string{"chain"})),
	}
}

// GasTank is the gas tank's address.
func (c *Chain) GasTank() string { return c.tank.Hex() }

// HotWallet is the hot wallet's address.
func (c *Chain) HotWallet() string { return c.hot.Hex() }

// CheckGasTank reads the gas tank's balance at the latest block, sets the
// gauges, and tells whether it is under the low threshold (logged as a
// warning: token sweeps stop when it runs dry).
func (c *Chain) CheckGasTank(ctx context.Context) (balance *big.Int, low bool, err error) {
	balance, err = c.eth.BalanceAt(ctx, c.tank, nil)
	if err != nil {
		return nil, false, fmt.Errorf("gas tank %s balance: %w", c.tank.Hex(), err)
	}
	low = balance.Cmp(c.cfg.GasTankLow) < 0
	if m := c.cfg.Metrics; m != nil {
		f, _ := new(big.Float).SetInt(balance).Float64()
		m.TankBalance.WithLabelValues(c.cfg.Chain).Set(f)
		lowV := 0.0
		if low {
			lowV = 1
		}
		m.TankLow.WithLabelValues(c.cfg.Chain).Set(lowV)
	}
	if low {
		c.log.Warn("the gas tank is low: refill it", "address", c.tank.Hex(), "balance_wei", balance.String(),
			"threshold_wei", c.cfg.GasTankLow.String())
	}
	return balance, low, nil
}

// WatchGasTank runs CheckGasTank every interval until ctx ends.
func (c *Chain) WatchGasTank(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	for {
		if _, _, err := c.CheckGasTank(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("gas tank check failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// HotBalances is what the hot wallet holds at the head: its coin (keyed by
// Config.Native) and each configured token, for the solvency check (the gas
// tank is the operator's own and owes no merchant anything).
func (c *Chain) HotBalances(ctx context.Context) (map[string]*big.Int, error) {
	h, err := c.eth.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	out := map[string]*big.Int{}
	if out[c.Native()], err = c.eth.BalanceAt(ctx, c.hot, h.Number); err != nil {
		return nil, fmt.Errorf("balance of the hot wallet %s: %w", c.hot.Hex(), err)
	}
	for sym, t := range c.tokens {
		if out[sym], err = c.tokenBalance(ctx, common.HexToAddress(t.Contract), c.hot, h.Number); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// WithdrawalFeeQuote is the fee reserve of a withdrawal of currency made
// now: twice the maxFeePerGas a transaction signed now offers (2 × base fee
// + tip, within the ceiling), for the gas reserves are made for.
func (c *Chain) WithdrawalFeeQuote(ctx context.Context, currency string) (*big.Int, error) {
	h, err := c.eth.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	tip, err := c.eth.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, fmt.Errorf("eth_maxPriorityFeePerGas: %w", err)
	}
	f, err := feeCaps(h.BaseFee, tip, c.cfg.MaxFeePerGas)
	if err != nil {
		return nil, err
	}
	perGas := new(big.Int).Lsh(f.Max, 1)
	if perGas.Cmp(c.cfg.MaxFeePerGas) > 0 {
		perGas.Set(c.cfg.MaxFeePerGas)
	}
	return WithdrawalFeeReserve(perGas, !c.native(currency, sweep.KindWithdraw)), nil
}
