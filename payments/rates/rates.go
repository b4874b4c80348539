package rates

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sluicepay/sluice/chain"
)

// Fiats are the fiat currencies sluice prices in.
var Fiats = []string{"USD", "EUR"}

// Asset is a currency sluice prices, as the chain registry describes it.
type Asset struct {
	Code     string // what merchants call it: BTC, USDC, USDT_POLYGON
	RateID   string // the ticker it is priced by (BTC, USDC); several codes may share one
	Decimals int    // of its base units, for conversions
}

// AssetsOf lists the assets of the registry's currencies (Registry.Currencies).
func AssetsOf(cs []chain.Currency) []Asset {
	out := make([]Asset, len(cs))
	for i, c := range cs {
		out[i] = Asset{Code: c.Code, RateID: c.RateID, Decimals: c.Decimals}
	}
	return out
}

// checkAssets refuses assets that could not be priced or converted.
func checkAssets(as []Asset) error {
	if len(as) == 0 {
		return errors.New("rates: no currencies to price (Options.Assets)")
	}
	seen := map[string]bool{}
	for _, a := range as {
		switch {
		case a.Code == "":
			return fmt.Errorf("rates: an asset without a code (rate id %q)", a.RateID)
		case seen[a.Code]:
			return fmt.Errorf("rates: currency %s is listed twice", a.Code)
		case a.RateID == "":
			return fmt.Errorf("rates: currency %s has no rate id", a.Code)
		case a.Decimals < 0 || a.Decimals > 77:
			return fmt.Errorf("rates: currency %s has %d decimals: want 0 to 77", a.Code, a.Decimals)
		}
		seen[a.Code] = true
	}
	return nil
}

// ErrNoRate: no price younger than the staleness limit is cached and no
// source answered. Whatever needed the price waits and tries again later.
var ErrNoRate = errors.New("no fresh fiat rate")

// Pair is a rate id priced in a fiat currency, e.g. BTC in USD. Every
// currency code of that rate id (USDC, USDC_POLYGON) has its price.
type Pair struct{ RateID, Fiat string }

func (p Pair) String() string { return p.RateID + "/" + p.Fiat }

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

// ConvertUnits values units (base units: satoshi, wei, token units) of a
// currency with that many decimals at price (fiat per whole coin):
// units / 10^decimals × price, computed exactly and then rounded to cents,
// half up (0.005 becomes 0.01). It returns the amount with exactly two
// decimals, e.g. "5339.52".
func ConvertUnits(units *big.Int, decimals int, price string) (string, error) {
	v, err := value(units, decimals, price)
	if err != nil {
		return "", err
	}
	return v.Round(FiatDecimals).StringFixed(FiatDecimals), nil
}

// value is the exact, unrounded fiat value of units.
func value(units *big.Int, decimals int, price string) (decimal.Decimal, error) {
	if decimals < 0 || decimals > 77 {
		return decimal.Decimal{}, fmt.Errorf("rates: %d decimals: want 0 to 77", decimals)
	}
	if units == nil || units.Sign() < 0 {
		return decimal.Decimal{}, errors.New("rates: an amount must be zero or more base units")
	}
	p, err := decimal.NewFromString(price)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("rates: price %q is not a decimal number", price)
	}
	return decimal.NewFromBigInt(units, int32(-decimals)).Mul(p), nil
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
