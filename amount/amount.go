// Package amount converts between integer base units (satoshi, litoshi,
// wei, token units) and exact decimal text, the only two forms money takes
// in sluice. Nothing here goes through float64.
package amount

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Decimals of each currency sluice takes.
var Decimals = map[string]int{"BTC": 8, "LTC": 8, "ETH": 18, "USDT": 6}

// Format prints base units as an exact decimal with the given number of
// decimals, trailing zeros trimmed: 1124, 8 → "0.00001124"; 25500000, 6 → "25.5".
func Format(units *big.Int, decimals int) string {
	neg := units.Sign() < 0
	s := new(big.Int).Abs(units).String()
	if decimals > 0 {
		if len(s) <= decimals {
			s = strings.Repeat("0", decimals-len(s)+1) + s
		}
		s = s[:len(s)-decimals] + "." + s[len(s)-decimals:]
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// FormatString is Format for base units held as decimal integer text (as
// the ledger's numeric columns read).
func FormatString(units string, decimals int) (string, error) {
	v, ok := new(big.Int).SetString(units, 10)
	if !ok {
		return "", fmt.Errorf("amount %q is not an integer number of base units", units)
	}
	return Format(v, decimals), nil
}

// ErrTooPrecise is returned for amounts finer than the currency's base unit.
var ErrTooPrecise = errors.New("more decimals than the currency has")

// Parse reads an exact decimal ("0.5", "12", "0.00001124") into base units.
// It refuses signs, exponents, empty parts and more than `decimals` digits
// after the point.
func Parse(s string, decimals int) (*big.Int, error) {
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole == "" && (!hasPoint || frac == "") || hasPoint && frac == "" {
		return nil, fmt.Errorf("amount %q is not a decimal number", s)
	}
	for _, part := range []string{whole, frac} {
		for _, r := range part {
			if r < '0' || r > '9' {
				return nil, fmt.Errorf("amount %q is not a decimal number (digits and one point only)", s)
			}
		}
	}
	if len(frac) > decimals {
		return nil, fmt.Errorf("amount %q: %w (%d)", s, ErrTooPrecise, decimals)
	}
	v, _ := new(big.Int).SetString(whole+frac+strings.Repeat("0", decimals-len(frac)), 10)
	return v, nil
}
