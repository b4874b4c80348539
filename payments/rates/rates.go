package rates

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sluicepay/sluice/amount"
)

// Currencies and Fiats are what sluice prices: every pair of one of each.
var (
	Currencies = []string{"BTC", "LTC", "ETH", "USDT"}
	Fiats      = []string{"USD", "EUR"}
)

// ErrNoRate: no price younger than the staleness limit is cached and no
// source answered. Whatever needed the price waits and tries again later.
var ErrNoRate = errors.New("no fresh fiat rate")

// Pair is a currency priced in a fiat currency, e.g. BTC in USD.
type Pair struct{ Currency, Fiat string }

func (p Pair) String() string { return p.Currency + "/" + p.Fiat }

// AllPairs lists every pair sluice prices.
func AllPairs() []Pair {
	ps := make([]Pair, 0, len(Currencies)*len(Fiats))
	for _, c := range Currencies {
		for _, f := range Fiats {
			ps = append(ps, Pair{c, f})
		}
	}
	return ps
}

func checkPair(p Pair) error {
	if !slices.Contains(Currencies, p.Currency) {
		return fmt.Errorf("rates: currency %q is not one of BTC, LTC, ETH, USDT", p.Currency)
	}
	if !slices.Contains(Fiats, p.Fiat) {
		return fmt.Errorf("rates: fiat currency %q is not USD or EUR", p.Fiat)
	}
	return nil
}

// Rate is the price of one whole coin (1 BTC, not 1 satoshi) in fiat.
type Rate struct {
	Price  string    // exact decimal, at most 18 decimals, e.g. "43250.12"
	Source string    // the source that gave it: coingecko, kraken, coinbase
	At     time.Time // when sluice fetched it
}

// PriceDecimals is how many decimals a price keeps: the ledger stores it as
// numeric(38,18). A source's price is rounded to it, half away from zero.
const PriceDecimals = 18

// maxPrice bounds a price to the ledger's 20 integer digits.
var maxPrice = decimal.New(1, 20)

// parsePrice reads a price as a source printed it (a JSON number or a
// decimal string, possibly with an exponent) exactly, without a float, and
// returns it in canonical form. Zero, negative, or absurd prices are refused.
func parsePrice(s string) (string, error) {
	if len(s) > 100 {
		return "", fmt.Errorf("price %.20q… is too long", s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return "", fmt.Errorf("price %q is not a decimal number", s)
	}
	if d.Sign() > 0 && int(d.NumDigits())+int(d.Exponent()) > 21 {
		return "", fmt.Errorf("price %q is out of range", s) // checked before rounding: 1e9999 would take long
	}
	d = d.Round(PriceDecimals)
	if d.Sign() <= 0 {
		return "", fmt.Errorf("price %q is not positive", s)
	}
	if d.GreaterThanOrEqual(maxPrice) {
		return "", fmt.Errorf("price %q is out of range", s)
	}
	return d.String(), nil
}

// FiatDecimals is how many decimals a converted amount has (cents).
const FiatDecimals = 2

// ConvertUnits values units of currency (base units: satoshi, wei, ...) at
// price (fiat per whole coin): units / 10^decimals × price, computed exactly
// and then rounded to cents, half up (0.005 becomes 0.01). It returns the
// amount with exactly two decimals, e.g. "5339.52".
func ConvertUnits(currency string, units *big.Int, price string) (string, error) {
	v, err := value(currency, units, price)
	if err != nil {
		return "", err
	}
	return v.Round(FiatDecimals).StringFixed(FiatDecimals), nil
}

// value is the exact, unrounded fiat value of units.
func value(currency string, units *big.Int, price string) (decimal.Decimal, error) {
	dec, ok := amount.Decimals[currency]
	if !ok {
		return decimal.Decimal{}, fmt.Errorf("rates: currency %q has no known decimals", currency)
	}
	if units == nil || units.Sign() < 0 {
		return decimal.Decimal{}, fmt.Errorf("rates: amount of %s must be zero or more base units", currency)
	}
	p, err := decimal.NewFromString(price)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("rates: price %q is not a decimal number", price)
	}
	return decimal.NewFromBigInt(units, int32(-dec)).Mul(p), nil
}

// joined is errors.Join on one line (log lines and webhook logs stay whole).
type joined []error

func (j joined) Error() string {
	msgs := make([]string, len(j))
	for i, e := range j {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func (j joined) Unwrap() []error { return j }

// joinErrors joins the non-nil errors of errs, nil when there are none.
func joinErrors(errs ...error) error {
	var j joined
	for _, e := range errs {
		if e != nil {
			j = append(j, e)
		}
	}
	if len(j) == 0 {
		return nil
	}
	return j
}
