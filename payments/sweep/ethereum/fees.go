package ethsweep

import (
	"fmt"
	"math/big"

	"github.com/sluicepay/sluice/payments/sweep"
)

// TransferGas is the gas of a plain ETH transfer to an address without code.
const TransferGas = 21_000

// DefaultMaxFeePerGas is the maxFeePerGas ceiling when none is configured
// (config sweeps.max_fee_per_gas_gwei, 500 gwei).
var DefaultMaxFeePerGas = big.NewInt(500_000_000_000)

// DefaultGasTankLow is the gas tank balance under which it counts as low
// when none is configured (config sweeps.gas_tank_low, 0.05 ETH).
var DefaultGasTankLow = big.NewInt(50_000_000_000_000_000)

// fees are one transaction's EIP-1559 fee caps, in wei per gas.
type fees struct {
	Base *big.Int // the latest block's base fee
	Tip  *big.Int // maxPriorityFeePerGas
	Max  *big.Int // maxFeePerGas
}

// feeCaps is maxPriorityFeePerGas = tip and maxFeePerGas = 2 × base + tip,
// capped by ceiling (the tip shrinks to fit under it). A ceiling at or under
// the base fee could not be mined now: that is ErrWait (fees are above what
// the operator allows).
func feeCaps(base, tip, ceiling *big.Int) (fees, error) {
	if base == nil || base.Sign() < 0 {
		return fees{}, fmt.Errorf("the node reports no base fee: the chain must have EIP-1559 (London)")
	}
	if tip == nil || tip.Sign() < 0 {
		tip = new(big.Int)
	}
	maxFee := new(big.Int).Lsh(base, 1)
	maxFee.Add(maxFee, tip)
	if ceiling != nil && maxFee.Cmp(ceiling) > 0 {
		maxFee.Set(ceiling)
	}
	if maxFee.Cmp(base) <= 0 && base.Sign() > 0 {
		return fees{}, fmt.Errorf("%w: the base fee %s wei is at or above the maxFeePerGas ceiling %s wei",
			sweep.ErrWait, base, ceiling)
	}
	if room := new(big.Int).Sub(maxFee, base); tip.Cmp(room) > 0 {
		tip = room // the ceiling leaves less tip than the node suggests: offer what fits
	}
	return fees{Base: new(big.Int).Set(base), Tip: new(big.Int).Set(tip), Max: maxFee}, nil
}

// affordable lowers f.Max so that gas × Max fits in wei, as long as the
// transaction can still be mined at the current base fee; ok=false when it
// cannot (the address needs more ETH).
func (f fees) affordable(gas uint64, wei *big.Int) (fees, bool) {
	if wei.Sign() <= 0 || gas == 0 {
		return f, false
	}
	most := new(big.Int).Div(wei, new(big.Int).SetUint64(gas))
	if most.Cmp(f.Max) >= 0 {
		return f, true
	}
	if most.Cmp(new(big.Int).Add(f.Base, f.Tip)) < 0 {
		return f, false
	}
	return fees{Base: f.Base, Tip: f.Tip, Max: most}, true
}

// cost is gas × Max: the most the transaction can pay for gas.
func (f fees) cost(gas uint64) *big.Int {
	return new(big.Int).Mul(new(big.Int).SetUint64(gas), f.Max)
}

// withMargin is an eth_estimateGas answer plus 20%: the state the
// transaction meets when mined may differ a little from the estimate's.
func withMargin(estimate uint64) uint64 {
	return estimate + estimate/5
}

// Gas limits a withdrawal may use: an ETH transfer (a contract wallet's
// receive function included) and a token transfer (the estimate plus its
// margin). A withdrawal needing more waits; WithdrawalFeeReserve is held
// from the merchant's ETH balance until it confirms.
const (
	WithdrawalGasETH   = 50_000
	WithdrawalGasToken = 120_000
)

// WithdrawalFeeReserve is the most a withdrawal's gas may cost at the
// maxFeePerGas ceiling (wei).
func WithdrawalFeeReserve(maxFeePerGas *big.Int, token bool) *big.Int {
	gas := int64(WithdrawalGasETH)
	if token {
		gas = WithdrawalGasToken
	}
	return new(big.Int).Mul(big.NewInt(gas), maxFeePerGas)
}
