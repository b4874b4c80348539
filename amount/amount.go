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

// maxAmountLen bounds the text of an amount: no real amount is longer, and a
// huge string of digits should not turn into a huge integer.
const maxAmountLen = 100

// Parse reads a non-negative exact decimal number into an integer
// count of 10^-decimals units: Parse("1.5", 8) is 150000000. It takes
// digits with at most one decimal point between digits ("12", "0.015",
// "7.0"); it refuses signs, exponents, spaces, thousands separators, and a
// non-zero digit beyond `decimals` places (which cannot be paid exactly).
// Zeros beyond that many places change nothing and are accepted.
func Parse(s string, decimals int) (*big.Int, error) {
	if decimals < 0 || decimals > 77 {
		return nil, fmt.Errorf("%d decimals: want 0 to 77", decimals)
	}
	switch {
	case s == "":
		return nil, fmt.Errorf("empty: want a decimal number such as 0.5")
	case len(s) > maxAmountLen:
		return nil, fmt.Errorf("%.20q... is %d characters long: not an amount", s, len(s))
	case s[0] == '-':
		return nil, fmt.Errorf("%q is negative: want a number greater than zero", s)
	}
	whole, frac, dot := strings.Cut(s, ".")
	if !allDigits(whole) || (dot && !allDigits(frac)) {
		return nil, fmt.Errorf("%q is not a decimal number: want digits with an optional decimal point, such as 12 or 0.015 (no sign, exponent, spaces or thousands separators)", s)
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > decimals {
		if decimals == 0 {
			return nil, fmt.Errorf("%q has a fraction: this amount has no decimal places", s)
		}
		return nil, fmt.Errorf("%q has %d decimal places: at most %d are possible (the smallest amount is %s): %w",
			s, len(frac), decimals, Format(big.NewInt(1), decimals), ErrTooPrecise)
	}
	digits := whole + frac + strings.Repeat("0", decimals-len(frac))
	v, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return nil, fmt.Errorf("%q is not a decimal number", s) // unreachable: digits only
	}
	return v, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Format writes an integer count of 10^-decimals units as an exact
// decimal, without trailing zeros: Format(150000000, 8) is "1.5".
func Format(v *big.Int, decimals int) string {
	if v == nil {
		return "0"
	}
	neg := v.Sign() < 0
	s := new(big.Int).Abs(v).String()
	if decimals > 0 {
		if len(s) <= decimals {
			s = strings.Repeat("0", decimals-len(s)+1) + s
		}
		whole, frac := s[:len(s)-decimals], strings.TrimRight(s[len(s)-decimals:], "0")
		s = whole
		if frac != "" {
			s += "." + frac
		}
	}
	if neg {
		s = "-" + s
	}
	return s
}
