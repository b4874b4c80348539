package sweep

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/chain"
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
	Gas           *big.Int // the network fee it bore (reserved while open; paid once confirmed)
	FeeCurrency   string   // the coin Gas is in
	FeeReserved   *big.Int
	TxID          string
	Status        int // 0 sent, 1 confirmed, 2 failed
	TimeCreated   time.Time
	TimeConfirmed *time.Time
}

// Withdrawal errors the API answers 400 to (ErrPaused: 503).
var (
	ErrInsufficient = errors.New("the amount and the reserved network fee are more than the balance")
	ErrExtIDReused  = errors.New("this extId was used for another withdrawal")
	ErrBelowMinimum = errors.New("the amount is below the withdrawal minimum")
	ErrPaused       = errors.New("withdrawals of this currency are paused by the operator")
)

// Policy is what a withdrawal of one currency costs before it is made:
// FeeReserve of FeeCurrency (the chain's native coin, which pays the
// network fee; a token's gas is charged to the merchant's own balance of
// that coin) is held from the balance on top of the amount until the
// withdrawal confirms, when what it paid counts instead. Its transaction is
// never signed for more than it reserved. FeeReserve is the most (at the
// operator's fee ceiling); a sweeper's fresh quote lowers it (Reserve).
// Minimum is the smallest amount.
type Policy struct {
	Chain       string // the currency's chain key ("" : the built-in one's)
	FeeCurrency string
	FeeReserve  *big.Int
	Minimum     *big.Int
}

// QuoteMaxAge is how long a sweeper's fee quote stands in for the ceiling.
const QuoteMaxAge = 10 * time.Minute

// Reserve is the fee reserve a withdrawal of currency made now holds: the
// sweepers' fresh quote when there is one below the ceiling's reserve, else
// the ceiling's.
func Reserve(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, currency string, pol Policy) (*big.Int, error) {
	var quote string
	err := q.QueryRow(ctx, `SELECT fee_reserve::text FROM withdrawal_fee_quotes
		WHERE currency = $1 AND quoted_at > now() - $2 * interval '1 second'`, currency, QuoteMaxAge.Seconds()).Scan(&quote)
	if errors.Is(err, pgx.ErrNoRows) {
		return new(big.Int).Set(pol.FeeReserve), nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if v := mustInt(quote); v.Sign() > 0 && v.Cmp(pol.FeeReserve) < 0 {
		return v, nil
	}
	return new(big.Int).Set(pol.FeeReserve), nil
}

// SetQuote records a sweeper's fee reserve quote for currency.
func SetQuote(ctx context.Context, db *pgxpool.Pool, currency string, reserve *big.Int) error {
	if _, err := db.Exec(ctx, `INSERT INTO withdrawal_fee_quotes (currency, fee_reserve) VALUES ($1, $2)
		ON CONFLICT (currency) DO UPDATE SET fee_reserve = EXCLUDED.fee_reserve, quoted_at = now()`, currency, reserve.String()); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// Balance is a merchant's balance of currency in the operator's hot wallet:
// what its hot sweeps brought there, less its withdrawals (sent or
// confirmed) and the network fees it bears in that currency, its token
// withdrawals' gas included (merchant_balance in the schema). q may be a
// transaction.
func Balance(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, merchantID int64, currency string) (*big.Int, error) {
	var s string
	if err := q.QueryRow(ctx, `SELECT merchant_balance($1, $2)::text`, merchantID, currency).Scan(&s); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return mustInt(s), nil
}

// lockMerchant serialises one merchant's withdrawals (all currencies: a
// token withdrawal draws on the native coin's balance too); the schema's
// trigger takes the same lock.
func lockMerchant(ctx context.Context, tx pgx.Tx, merchantID int64) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('withdraw'), hashtext($1::bigint::text))", merchantID); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// Paused tells why withdrawals of currency are paused ("" when they are not).
func Paused(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, currency string) (string, error) {
	var why string
	err := q.QueryRow(ctx, "SELECT reason FROM withdrawal_pauses WHERE currency = $1", currency).Scan(&why)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("ledger: %w", err)
	}
	return why, nil
}

// Pause stops withdrawals of currency (and of tokens whose fee it pays)
// until Resume; true when it was not paused before. Pausing a paused
// currency adds the reason (payments.PauseConflict).
func Pause(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, currency, reason string) (bool, error) {
	var inserted bool
	err := q.QueryRow(ctx, "INSERT INTO withdrawal_pauses (currency, reason) VALUES ($1, $2) "+payments.PauseConflict+" RETURNING xmax = 0",
		currency, reason).Scan(&inserted)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ledger: %w", err)
	}
	return inserted, nil
}

// Resume lets withdrawals of currency go out again; false if not paused.
func Resume(ctx context.Context, db *pgxpool.Pool, currency string) (bool, error) {
	tag, err := db.Exec(ctx, "DELETE FROM withdrawal_pauses WHERE currency = $1", currency)
	if err != nil {
		return false, fmt.Errorf("ledger: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// PauseInfo is one paused currency.
type PauseInfo struct {
	Currency string    `json:"currency"`
	Reason   string    `json:"reason"`
	PausedAt time.Time `json:"paused_at"`
}

// Pauses lists the paused currencies.
func Pauses(ctx context.Context, db *pgxpool.Pool) ([]PauseInfo, error) {
	rows, err := db.Query(ctx, "SELECT currency, reason, paused_at FROM withdrawal_pauses ORDER BY currency")
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (PauseInfo, error) {
		var p PauseInfo
		return p, r.Scan(&p.Currency, &p.Reason, &p.PausedAt)
	})
}

// CreateWithdrawal records a withdrawal and plans its job. Under the
// merchant's lock it refuses an amount under the policy's minimum, a paused
// currency, and anything the balance does not cover with the fee reserve
// (in the fee currency's balance for a token). A request with an extId
// seen before returns that withdrawal (created false) if it asked for the
// same thing, and ErrExtIDReused if not.
func CreateWithdrawal(ctx context.Context, db *pgxpool.Pool, merchantID int64, currency, extID, address string, amount *big.Int, pol Policy) (Withdrawal, bool, error) {
	chainKey := pol.Chain
	if chainKey == "" {
		c, known := chain.Builtin(currency)
		if !known {
			return Withdrawal{}, false, payments.ErrUnknownCurrency
		}
		chainKey = c.Chain
	}
	if err := payments.ValidExtID(extID); err != nil {
		return Withdrawal{}, false, err
	}
	if amount.Sign() <= 0 {
		return Withdrawal{}, false, errors.New("the amount must be more than zero")
	}
	if pol.FeeCurrency == "" || pol.FeeReserve == nil || pol.FeeReserve.Sign() < 0 {
		return Withdrawal{}, false, fmt.Errorf("no withdrawal policy for %s", currency)
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return Withdrawal{}, false, fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if err := lockMerchant(ctx, tx, merchantID); err != nil {
		return Withdrawal{}, false, err
	}
	if w, err := getWithdrawal(ctx, tx, "w.merchant_id = $1 AND w.currency = $2 AND w.ext_id = $3", merchantID, currency, extID); err == nil {
		if w.Address != address || w.Amount.Cmp(amount) != 0 {
			return Withdrawal{}, false, fmt.Errorf("%w (withdrawal %d)", ErrExtIDReused, w.ID)
		}
		return w, false, nil
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return Withdrawal{}, false, err
	}
	if pol.Minimum != nil && amount.Cmp(pol.Minimum) < 0 {
		return Withdrawal{}, false, fmt.Errorf("%w (%s base units of %s, asked %s)", ErrBelowMinimum, pol.Minimum, currency, amount)
	}
	for _, cur := range []string{currency, pol.FeeCurrency} {
		if why, err := Paused(ctx, tx, cur); err != nil {
			return Withdrawal{}, false, err
		} else if why != "" {
			return Withdrawal{}, false, fmt.Errorf("%w: %s (%s)", ErrPaused, cur, why)
		}
	}
	reserve, err := Reserve(ctx, tx, currency, pol)
	if err != nil {
		return Withdrawal{}, false, err
	}
	pol.FeeReserve = reserve
	bal, err := Balance(ctx, tx, merchantID, currency)
	if err != nil {
		return Withdrawal{}, false, err
	}
	need := new(big.Int).Set(amount)
	if pol.FeeCurrency == currency {
		need.Add(need, pol.FeeReserve)
	}
	if need.Cmp(bal) > 0 {
		return Withdrawal{}, false, fmt.Errorf("%w (balance %s, asked %s with a network fee reserve of %s, base units)",
			ErrInsufficient, bal, amount, pol.FeeReserve)
	}
	if pol.FeeCurrency != currency {
		gasBal, err := Balance(ctx, tx, merchantID, pol.FeeCurrency)
		if err != nil {
			return Withdrawal{}, false, err
		}
		if pol.FeeReserve.Cmp(gasBal) > 0 {
			return Withdrawal{}, false, fmt.Errorf("%w: the network fee is paid in %s from the merchant's own %s balance: %s base units reserved, the balance is %s",
				ErrInsufficient, pol.FeeCurrency, pol.FeeCurrency, pol.FeeReserve, gasBal)
		}
	}
	var jobID, id int64
	if err := tx.QueryRow(ctx, `INSERT INTO sweeps (chain, currency, merchant_id, kind, destination, amount)
		VALUES ($1, $2, $3, 'withdraw', $4, $5) RETURNING id`, chainKey, currency, merchantID, address, amount.String()).Scan(&jobID); err != nil {
		return Withdrawal{}, false, fmt.Errorf("plan withdrawal: %w", err)
	}
	if err := tx.QueryRow(ctx, `INSERT INTO withdrawals (merchant_id, currency, ext_id, address, amount, sweep_id, fee_currency, fee_reserved)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, merchantID, currency, extID, address, amount.String(), jobID,
		pol.FeeCurrency, pol.FeeReserve.String()).Scan(&id); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.ConstraintName == "withdrawal_covered" {
			return Withdrawal{}, false, fmt.Errorf("%w: %s", ErrInsufficient, pe.Message)
		}
		if errors.As(err, &pe) && pe.ConstraintName == "withdrawal_paused" {
			return Withdrawal{}, false, fmt.Errorf("%w: %s", ErrPaused, pe.Message)
		}
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
	var amount, gas, reserved string
	err := q.QueryRow(ctx, `SELECT w.id, w.merchant_id, w.currency, w.ext_id, w.address, w.amount::text, w.gas::text,
			w.fee_currency, w.fee_reserved::text, coalesce(s.txid, ''), w.status, w.created_at, w.confirmed_at
		FROM withdrawals w LEFT JOIN sweeps s ON s.id = w.sweep_id WHERE `+where, args...).
		Scan(&w.ID, &w.MerchantID, &w.Currency, &w.ExtID, &w.Address, &amount, &gas, &w.FeeCurrency, &reserved, &w.TxID, &w.Status, &w.TimeCreated, &w.TimeConfirmed)
	if err != nil {
		return w, err
	}
	w.Amount, w.Gas, w.FeeReserved = mustInt(amount), mustInt(gas), mustInt(reserved)
	return w, nil
}
