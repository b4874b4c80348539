package sweep

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/payments"
)

// Withdrawal is a withdrawal as iqpay's webhook shows it, amounts in base units.
type Withdrawal struct {
	ID            int64
	MerchantID    int64
	Currency      string
	ExtID         string
	Address       string
	Amount        *big.Int
	Gas           *big.Int
	TxID          string
	Status        int // 0 sent, 1 confirmed, 2 failed
	TimeCreated   time.Time
	TimeConfirmed *time.Time
}

// Withdrawal errors the API answers 400 to.
var (
	ErrInsufficient = errors.New("the amount is more than the balance")
	ErrExtIDReused  = errors.New("this extId was used for another withdrawal")
)

// Balance is a merchant's balance of currency in the operator's hot wallet:
// what its hot sweeps brought there, less its withdrawals (sent or
// confirmed) and their network fees (a token withdrawal's gas is ETH, paid
// by the hot wallet, not charged to the token balance). q may be a transaction.
func Balance(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, merchantID int64, currency string) (*big.Int, error) {
	var s string
	err := q.QueryRow(ctx, `SELECT (
			coalesce((SELECT sum(amount) FROM sweeps WHERE merchant_id = $1 AND currency = $2 AND kind = 'hot' AND state = 'confirmed'), 0)
			- coalesce((SELECT sum(amount + CASE WHEN currency = 'USDT' THEN 0 ELSE gas END) FROM withdrawals
				WHERE merchant_id = $1 AND currency = $2 AND status IN (0, 1)), 0)
		)::text`, merchantID, currency).Scan(&s)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return mustInt(s), nil
}

// CreateWithdrawal records a withdrawal and plans its job, with the balance
// checked in the same transaction (serialised per merchant and currency). A
// request with an extId seen before returns that withdrawal (created false)
// if it asked for the same thing, and ErrExtIDReused if not.
func CreateWithdrawal(ctx context.Context, db *pgxpool.Pool, merchantID int64, currency, extID, address string, amount *big.Int) (Withdrawal, bool, error) {
	chain := payments.ChainOf(currency)
	if chain == "" {
		return Withdrawal{}, false, payments.ErrUnknownCurrency
	}
	if err := payments.ValidExtID(extID); err != nil {
		return Withdrawal{}, false, err
	}
	if amount.Sign() <= 0 {
		return Withdrawal{}, false, errors.New("the amount must be more than zero")
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return Withdrawal{}, false, fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	// one withdrawal at a time per merchant and currency: the balance read
	// below cannot be spent twice by concurrent requests
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('withdraw'), hashtext($1 || ':' || $2))",
		fmt.Sprint(merchantID), currency); err != nil {
		return Withdrawal{}, false, fmt.Errorf("ledger: %w", err)
	}
	if w, err := getWithdrawal(ctx, tx, "w.merchant_id = $1 AND w.currency = $2 AND w.ext_id = $3", merchantID, currency, extID); err == nil {
		if w.Address != address || w.Amount.Cmp(amount) != 0 {
			return Withdrawal{}, false, fmt.Errorf("%w (withdrawal %d)", ErrExtIDReused, w.ID)
		}
		return w, false, nil
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return Withdrawal{}, false, err
	}
	bal, err := Balance(ctx, tx, merchantID, currency)
	if err != nil {
		return Withdrawal{}, false, err
	}
	if amount.Cmp(bal) > 0 {
		return Withdrawal{}, false, fmt.Errorf("%w (balance %s, asked %s, base units)", ErrInsufficient, bal, amount)
	}
	var jobID, id int64
	if err := tx.QueryRow(ctx, `INSERT INTO sweeps (chain, currency, merchant_id, kind, destination, amount)
		VALUES ($1, $2, $3, 'withdraw', $4, $5) RETURNING id`, chain, currency, merchantID, address, amount.String()).Scan(&jobID); err != nil {
		return Withdrawal{}, false, fmt.Errorf("plan withdrawal: %w", err)
	}
	if err := tx.QueryRow(ctx, `INSERT INTO withdrawals (merchant_id, currency, ext_id, address, amount, sweep_id)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, merchantID, currency, extID, address, amount.String(), jobID).Scan(&id); err != nil {
		return Withdrawal{}, false, fmt.Errorf("record withdrawal: %w", err)
	}
	w, err := getWithdrawal(ctx, tx, "w.id = $1", id)
	if err != nil {
		return Withdrawal{}, false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Withdrawal{}, false, fmt.Errorf("ledger: %w", err)
	}
	return w, true, nil
}

// GetWithdrawal reads one of a merchant's withdrawals.
func GetWithdrawal(ctx context.Context, db *pgxpool.Pool, merchantID, id int64) (Withdrawal, error) {
	return getWithdrawal(ctx, db, "w.id = $1 AND w.merchant_id = $2", id, merchantID)
}

func getWithdrawal(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, where string, args ...any) (Withdrawal, error) {
	var w Withdrawal
	var amount, gas string
	err := q.QueryRow(ctx, `SELECT w.id, w.merchant_id, w.currency, w.ext_id, w.address, w.amount::text, w.gas::text,
			coalesce(s.txid, ''), w.status, w.created_at, w.confirmed_at
		FROM withdrawals w LEFT JOIN sweeps s ON s.id = w.sweep_id WHERE `+where, args...).
		Scan(&w.ID, &w.MerchantID, &w.Currency, &w.ExtID, &w.Address, &amount, &gas, &w.TxID, &w.Status, &w.TimeCreated, &w.TimeConfirmed)
	if err != nil {
		return w, err
	}
	w.Amount, w.Gas = mustInt(amount), mustInt(gas)
	return w, nil
}
