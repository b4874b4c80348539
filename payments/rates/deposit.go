package rates

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// Valuation is a deposit valued in fiat.
type Valuation struct {
	Currency  string   // the deposit's code: BTC, USDC
	Units     *big.Int // the deposit's amount in base units
	Fiat      string
	Rate      Rate
	Converted string // the deposit's amount in Fiat, rounded to cents half up (ConvertUnits)
	// Stored: Rate is the one fixed in the deposit's row. False only when the
	// row already holds a rate in another fiat currency: then Rate is the
	// current price, not stored.
	Stored bool
}

// ValueDeposit values deposit depositID in fiat at the rate fixed in its
// ledger row (deposits.fiat, fiat_rate, rate_source, rate_at). The first
// call fixes it: the current Price, written only while the row has none
// (UPDATE … WHERE fiat_rate IS NULL), so concurrent callers and every later
// webhook of the deposit agree on the rate in force when it was first
// valued. Without a fresh price nothing is written and the error wraps
// ErrNoRate. A row holds one rate: asked for another fiat currency than the
// stored one (the merchant changed convert_currency), it answers with the
// current price and stores nothing.
func (s *Service) ValueDeposit(ctx context.Context, db DB, depositID int64, fiat string) (Valuation, error) {
	if db == nil {
		return Valuation{}, errors.New("rates: ValueDeposit needs the ledger")
	}
	for range 2 { // the second round reads the rate a concurrent caller fixed first
		var currency, units, storedFiat, source string
		var price *string
		var at *time.Time
		err := db.QueryRow(ctx, `SELECT currency, amount::text, fiat, fiat_rate::text, rate_source, rate_at
			FROM deposits WHERE id = $1`, depositID).Scan(&currency, &units, &storedFiat, &price, &source, &at)
		if errors.Is(err, pgx.ErrNoRows) {
			return Valuation{}, fmt.Errorf("rates: deposit %d does not exist", depositID)
		}
		if err != nil {
			return Valuation{}, fmt.Errorf("rates: read deposit %d: %w", depositID, err)
		}
		n, ok := new(big.Int).SetString(units, 10)
		if !ok {
			return Valuation{}, fmt.Errorf("rates: deposit %d: amount %q is not an integer", depositID, units)
		}
		if price != nil && storedFiat == fiat {
			p, err := parsePrice(*price)
			if err != nil {
				return Valuation{}, fmt.Errorf("rates: deposit %d: stored rate: %w", depositID, err)
			}
			r := Rate{Price: p, Source: source}
			if at != nil {
				r.At = *at
			}
			return s.valuation(currency, fiat, n, r, true)
		}
		r, err := s.Price(ctx, currency, fiat)
		if err != nil {
			return Valuation{}, fmt.Errorf("value deposit %d: %w", depositID, err)
		}
		if price != nil { // fixed in another fiat currency
			return s.valuation(currency, fiat, n, r, false)
		}
		var fixed bool
		err = db.QueryRow(ctx, `UPDATE deposits SET fiat = $2, fiat_rate = $3::numeric, rate_source = $4, rate_at = $5
			WHERE id = $1 AND fiat_rate IS NULL RETURNING true`, depositID, fiat, r.Price, r.Source, r.At).Scan(&fixed)
		if err == nil {
			return s.valuation(currency, fiat, n, r, true)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return Valuation{}, fmt.Errorf("rates: store the rate of deposit %d: %w", depositID, err)
		}
	}
	return Valuation{}, fmt.Errorf("rates: deposit %d: its rate changed twice while being read", depositID)
}

func (s *Service) valuation(currency, fiat string, units *big.Int, r Rate, stored bool) (Valuation, error) {
	conv, err := s.convertUnits(currency, units, r.Price)
	if err != nil {
		return Valuation{}, err
	}
	return Valuation{Currency: currency, Units: units, Fiat: fiat, Rate: r, Converted: conv, Stored: stored}, nil
}

// Convert prices a deposit for the iqpay webhook fields (it is the
// payments/webhook.Converter): price is convert_price, the rate of one whole
// coin, and converted is converted_amount, units at that rate rounded to
// cents half up. With a ledger (Options.DB) and a deposit id the rate is the
// one fixed in the deposit's row (ValueDeposit), so every webhook of a
// deposit carries the same conversion; otherwise the current Price. Without
// a fresh rate the error wraps ErrNoRate.
func (s *Service) Convert(ctx context.Context, depositID int64, currency, fiat string, units *big.Int) (price, converted string, err error) {
	if s.o.DB != nil && depositID > 0 {
		v, err := s.ValueDeposit(ctx, s.o.DB, depositID, fiat)
		if err != nil {
			return "", "", err
		}
		price = v.Rate.Price
	} else {
		r, err := s.Price(ctx, currency, fiat)
		if err != nil {
			return "", "", err
		}
		price = r.Price
	}
	converted, err = s.convertUnits(currency, units, price)
	if err != nil {
		return "", "", err
	}
	return price, converted, nil
}

// decimals are those of configured currency code.
func (s *Service) decimals(code string) (int, error) {
	a, ok := s.assets[code]
	if !ok {
		return 0, fmt.Errorf("rates: currency %q is not configured here: its decimals are unknown", code)
	}
	return a.Decimals, nil
}

// convertUnits is ConvertUnits with the decimals of currency code.
func (s *Service) convertUnits(code string, units *big.Int, price string) (string, error) {
	d, err := s.decimals(code)
	if err != nil {
		return "", err
	}
	return ConvertUnits(units, d, price)
}

// value is value with the decimals of currency code.
func (s *Service) value(code string, units *big.Int, price string) (decimal.Decimal, error) {
	d, err := s.decimals(code)
	if err != nil {
		return decimal.Decimal{}, err
	}
	return value(units, d, price)
}

// MinimumUSD is litepay's minimum payment: smaller ones are donations and
// are not forwarded.
const MinimumUSD = "1"

// MeetsMinimum says whether units of currency are worth at least minUSD (an
// exact decimal, e.g. MinimumUSD) at the current USD price, compared exactly
// (no rounding: 0.999 USD is under 1), and returns the rate it used. Without
// a fresh rate it returns an error wrapping ErrNoRate: the caller waits
// (forwarding waits rather than guessing).
func (s *Service) MeetsMinimum(ctx context.Context, currency string, units *big.Int, minUSD string) (bool, Rate, error) {
	min, err := parseMinimum(minUSD)
	if err != nil {
		return false, Rate{}, err
	}
	r, err := s.Price(ctx, currency, "USD")
	if err != nil {
		return false, Rate{}, err
	}
	v, err := s.value(currency, units, r.Price)
	if err != nil {
		return false, Rate{}, err
	}
	return v.GreaterThanOrEqual(min), r, nil
}

// DepositMeetsMinimum is MeetsMinimum for a deposit in the ledger, at its
// fixed USD rate (ValueDeposit with USD: the first valuation stores it), so
// the decision and the stored rate agree.
func (s *Service) DepositMeetsMinimum(ctx context.Context, db DB, depositID int64, minUSD string) (bool, Valuation, error) {
	min, err := parseMinimum(minUSD)
	if err != nil {
		return false, Valuation{}, err
	}
	v, err := s.ValueDeposit(ctx, db, depositID, "USD")
	if err != nil {
		return false, Valuation{}, err
	}
	worth, err := s.value(v.Currency, v.Units, v.Rate.Price)
	if err != nil {
		return false, Valuation{}, err
	}
	return worth.GreaterThanOrEqual(min), v, nil
}

func parseMinimum(s string) (decimal.Decimal, error) {
	d, err := decimal.NewFromString(s)
	if err != nil || d.Sign() < 0 {
		return decimal.Decimal{}, fmt.Errorf("rates: minimum %q is not a decimal amount of 0 or more", s)
	}
	return d, nil
}
