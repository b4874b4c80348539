package merchant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
)

// Settlement is where and when a merchant's confirmed deposits of one
// currency are swept, and the operator's service fee on them. Amounts are
// base units; FeePercent an exact fraction ("0.0150" = 1.5%).
type Settlement struct {
	Currency    string        `json:"currency"`
	Address     string        `json:"address"` // "" = the operator's hot wallet (the merchant's balance)
	BatchWindow time.Duration `json:"-"`
	MinAmount   *big.Int      `json:"-"`
	FeePercent  string        `json:"fee_percent"`
	FeeFixed    *big.Int      `json:"-"`
	FeeMin      *big.Int      `json:"-"`
	// Decimals of the currency, as the ledger recorded it (the currencies
	// table), for the JSON amounts.
	Decimals int `json:"-"`
}

// SettlementChange is a partial update: nil fields keep their value.
type SettlementChange struct {
	Address     *string
	BatchWindow *time.Duration
	MinAmount   *big.Int
	FeePercent  *string
	FeeFixed    *big.Int
	FeeMin      *big.Int
}

// AddressCheck validates a settlement address for a currency's network.
type AddressCheck func(currency, address string) error

// UpdateSettlement applies a change to a merchant's settlement of currency.
// The caller resolves currency against the configured ones (the API's
// currencies, the CLI's registry); the ledger refuses a malformed code.
func UpdateSettlement(ctx context.Context, db *pgxpool.Pool, merchantID int64, currency string, ch SettlementChange, check AddressCheck) (Settlement, error) {
	if !config.IsCurrencyCode(currency) {
		return Settlement{}, fmt.Errorf("currency %q is not a currency code", currency)
	}
	if ch.Address != nil && *ch.Address != "" && check != nil {
		if err := check(currency, *ch.Address); err != nil {
			return Settlement{}, fmt.Errorf("settlement address: %w", err)
		}
	}
	if ch.FeePercent != nil {
		if _, err := amount.Parse(*ch.FeePercent, 4); err != nil || !strings.HasPrefix(*ch.FeePercent, "0") {
			return Settlement{}, fmt.Errorf("fee percent %q: a fraction below 1 with at most 4 decimals (0.015 = 1.5%%)", *ch.FeePercent)
		}
	}
	if ch.BatchWindow != nil && *ch.BatchWindow < 0 {
		return Settlement{}, fmt.Errorf("batch window %s is negative", *ch.BatchWindow)
	}
	str := func(v *big.Int) any {
		if v == nil {
			return nil
		}
		return v.String()
	}
	var window any
	if ch.BatchWindow != nil {
		window = ch.BatchWindow.String()
	}
	_, err := db.Exec(ctx, `INSERT INTO merchant_settlements (merchant_id, currency, address, batch_window, min_amount, fee_percent, fee_fixed, fee_min)
		VALUES ($1, $2, coalesce($3, ''), coalesce($4::interval, '0'), coalesce($5::numeric, 0), coalesce($6::numeric, 0),
			coalesce($7::numeric, 0), coalesce($8::numeric, 0))
		ON CONFLICT (merchant_id, currency) DO UPDATE SET
			address = coalesce($3, merchant_settlements.address),
			batch_window = coalesce($4::interval, merchant_settlements.batch_window),
			min_amount = coalesce($5::numeric, merchant_settlements.min_amount),
			fee_percent = coalesce($6::numeric, merchant_settlements.fee_percent),
			fee_fixed = coalesce($7::numeric, merchant_settlements.fee_fixed),
			fee_min = coalesce($8::numeric, merchant_settlements.fee_min),
			updated_at = now()`,
		merchantID, currency, ch.Address, window, str(ch.MinAmount), ch.FeePercent, str(ch.FeeFixed), str(ch.FeeMin))
	if err != nil {
		if strings.Contains(err.Error(), "foreign key") {
			return Settlement{}, fmt.Errorf("no merchant %d", merchantID)
		}
		return Settlement{}, fmt.Errorf("ledger: %w", err)
	}
	return GetSettlement(ctx, db, merchantID, currency)
}

// GetSettlement reads a merchant's settlement of currency (the defaults
// when none was set: the hot wallet, no batching, no fee).
func GetSettlement(ctx context.Context, db *pgxpool.Pool, merchantID int64, currency string) (Settlement, error) {
	s := Settlement{Currency: currency, FeePercent: "0", MinAmount: new(big.Int), FeeFixed: new(big.Int), FeeMin: new(big.Int)}
	var err error
	if s.Decimals, err = recordedDecimals(ctx, db, currency); err != nil {
		return s, err
	}
	var window float64
	var minAmt, fixed, fmin string
	err = db.QueryRow(ctx, `SELECT address, extract(epoch FROM batch_window)::float8, min_amount::text, fee_percent::text,
			fee_fixed::text, fee_min::text FROM merchant_settlements WHERE merchant_id = $1 AND currency = $2`, merchantID, currency).
		Scan(&s.Address, &window, &minAmt, &s.FeePercent, &fixed, &fmin)
	if err != nil {
		if strings.Contains(err.Error(), "no rows") {
			return s, nil
		}
		return s, fmt.Errorf("ledger: %w", err)
	}
	if v, err := amount.Parse(s.FeePercent, 4); err == nil {
		s.FeePercent = amount.Format(v, 4) // "0.0150" → "0.015"
	}
	s.BatchWindow = time.Duration(window * float64(time.Second))
	s.MinAmount, _ = new(big.Int).SetString(minAmt, 10)
	s.FeeFixed, _ = new(big.Int).SetString(fixed, 10)
	s.FeeMin, _ = new(big.Int).SetString(fmin, 10)
	return s, nil
}

// PercentToFraction reads a fee given in percent ("1.5" or "1.5%") as the
// exact fraction the ledger keeps ("0.015").
func PercentToFraction(p string) (string, error) {
	bp, err := amount.Parse(strings.TrimSuffix(strings.TrimSpace(p), "%"), 2) // hundredths of a percent
	if err != nil {
		return "", fmt.Errorf("fee %q: a percent with at most 2 decimals, e.g. 1.5", p)
	}
	if bp.Cmp(big.NewInt(10_000)) >= 0 {
		return "", fmt.Errorf("fee %q: must be below 100%%", p)
	}
	return amount.Format(bp, 4), nil
}

// MarshalJSON shows amounts as exact decimals of the currency.
func (s Settlement) MarshalJSON() ([]byte, error) {
	dec := s.Decimals
	f := func(v *big.Int) string {
		if v == nil {
			return "0"
		}
		return amount.Format(v, dec)
	}
	return json.Marshal(map[string]any{"currency": s.Currency, "address": s.Address, "batch_window": s.BatchWindow.String(),
		"min_amount": f(s.MinAmount), "fee_percent": s.FeePercent, "fee_fixed": f(s.FeeFixed), "fee_min": f(s.FeeMin)})
}

// recordedDecimals are currency's decimals as the ledger recorded them
// when a process configured with it started (payments.PinCurrencies), else
// the built-in currency's.
func recordedDecimals(ctx context.Context, db *pgxpool.Pool, currency string) (int, error) {
	var d int
	err := db.QueryRow(ctx, "SELECT decimals FROM currencies WHERE code = $1", currency).Scan(&d)
	if err == nil {
		return d, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	d, _ = chain.Decimals(currency)
	return d, nil
}
