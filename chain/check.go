package chain

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/config"
)

// exactDecimal is a plain decimal number: no sign, exponent or spaces.
var exactDecimal = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// Check is the config.Check of what the registry decides: every configured
// token can be taken (a built-in with its own key branch, any other with a
// key branch of its own from 3 up), and the per-currency settings
// (sweeps.withdrawal_minimum, sweeps.fee_addresses) name configured
// currencies, the minimums with no more decimals than their currency has.
func Check(cfg *config.Config) []config.Problem {
	r, ps := build(cfg)
	codes := strings.Join(r.Codes(), ", ")
	for _, code := range slices.Sorted(maps.Keys(cfg.Sweeps.WithdrawalMinimum)) {
		v := cfg.Sweeps.WithdrawalMinimum[code]
		c, ok := r.Currency(code)
		if !ok {
			// a currency of a chain not enabled here may be set for the processes that have it
			if c, ok = Builtin(code); !ok {
				ps = append(ps, config.NewProblem("sweeps.withdrawal_minimum."+code,
					fmt.Errorf("currency %q is not one sluice takes (configured here: %s)", code, codes)))
				continue
			}
		}
		// as many decimals as the currency has: the API compares base units
		if _, err := amount.Parse(v, c.Decimals); err != nil || !exactDecimal.MatchString(v) {
			ps = append(ps, config.NewProblem("sweeps.withdrawal_minimum."+code,
				fmt.Errorf("%q must be an exact decimal such as 0.001, with at most %d decimals", v, c.Decimals)))
		}
	}
	for _, code := range slices.Sorted(maps.Keys(cfg.Sweeps.FeeAddresses)) {
		if _, ok := r.Currency(code); ok {
			continue
		}
		if _, ok := Builtin(code); !ok {
			ps = append(ps, config.NewProblem("sweeps.fee_addresses."+code, fmt.Errorf("currency %q: one of %s, or a configured token",
				code, strings.Join(BuiltinCodes(), ", "))))
		}
	}
	return ps
}

// BuiltinCodes lists the currencies sluice knows, in their built-in order.
func BuiltinCodes() []string {
	var out []string
	for _, c := range builtin() {
		out = append(out, c.Code)
	}
	return out
}
