package devnet

import (
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/sluicepay/sluice/amount"
)

// Currency is one currency the stack can pay in.
type Currency struct {
	Code     string // BTC, LTC, ETH, USDT, USDC
	Chain    string // btc, ltc, eth: the node that carries it
	Decimals int    // digits after the decimal point of one base unit
	Unit     string // name of the base unit
	Token    bool   // an ERC-20 token (else the chain's own coin)
}

// currencies are the stack's currencies; USDT and USDC are the devnet tokens on geth.
var currencies = []Currency{
	{Code: "BTC", Chain: "btc", Decimals: 8, Unit: "sat"},
	{Code: "LTC", Chain: "ltc", Decimals: 8, Unit: "litoshi"},
	{Code: "ETH", Chain: "eth", Decimals: 18, Unit: "wei"},
	{Code: "USDT", Chain: "eth", Decimals: 6, Unit: "token units", Token: true},
	{Code: "USDC", Chain: "eth", Decimals: 6, Unit: "token units", Token: true},
}

// Chains are the stack's chains, as `devnet mine` and `devnet address` name them.
var Chains = []string{"btc", "ltc", "eth"}

// CurrencyCodes lists the codes LookupCurrency accepts.
func CurrencyCodes() []string {
	out := make([]string, len(currencies))
	for i, c := range currencies {
		out[i] = c.Code
	}
	return out
}

// LookupCurrency finds a currency by its code, in any case.
func LookupCurrency(code string) (Currency, error) {
	for _, c := range currencies {
		if strings.EqualFold(c.Code, strings.TrimSpace(code)) {
			return c, nil
		}
	}
	return Currency{}, fmt.Errorf("unknown currency %q (one of: %s)", code, strings.Join(CurrencyCodes(), ", "))
}

// checkChain normalises a chain name and refuses an unknown one.
func checkChain(chain string) (string, error) {
	c := strings.ToLower(strings.TrimSpace(chain))
	if !slices.Contains(Chains, c) {
		return "", fmt.Errorf("unknown chain %q (one of: %s)", chain, strings.Join(Chains, ", "))
	}
	return c, nil
}

// ParseAmount reads an exact decimal amount of c ("0.5", "12", "0.00000001")
// into base units, without floating point: see amount.Parse. The amount must
// be more than zero.
func (c Currency) ParseAmount(s string) (*big.Int, error) {
	v, err := amount.Parse(s, c.Decimals)
	if err != nil {
		return nil, fmt.Errorf("%s amount: %w", c.Code, err)
	}
	if v.Sign() == 0 {
		return nil, fmt.Errorf("%s amount %q is zero: pay more than zero", c.Code, s)
	}
	return v, nil
}

// Format writes base units of c as an exact decimal amount (amount.Format).
func (c Currency) Format(units *big.Int) string { return amount.Format(units, c.Decimals) }
