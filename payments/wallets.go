package payments

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Currencies sluice takes deposits in, with the chain each lives on.
var chainOf = map[string]string{"BTC": "btc", "LTC": "ltc", "ETH": "eth", "USDT": "eth"}

// ChainOf returns the chain id of a currency ("" when unknown).
func ChainOf(currency string) string { return chainOf[currency] }

// Deriver gives the deposit address of (currency, account, index); the
// keys package's Seed is one, bound to the networks in the config.
type Deriver interface {
	Address(currency string, account, index uint32) (string, error)
}

// Ledger is the Postgres ledger.
type Ledger struct {
	DB   *pgxpool.Pool
	Keys Deriver
	// Watch, when set, is told of every new wallet after its commit, so the
	// indexers match payments to it (the watch set in Redis).
	Watch func(ctx context.Context, w Wallet) error
}

// Merchant is a merchant as the ledger holds it.
type Merchant struct {
	ID         int64
	Name       string
	KeyAccount uint32
}

// CreateMerchant adds a merchant with the next free HD account.
func (l *Ledger) CreateMerchant(ctx context.Context, name string) (Merchant, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return Merchant{}, errors.New("merchant name must be 1 to 200 characters")
	}
	m := Merchant{Name: name}
	// key_account is UNIQUE: a concurrent insert of the same account fails and is retried.
	for attempt := 0; ; attempt++ {
		err := l.DB.QueryRow(ctx, `INSERT INTO merchants (name, key_account)
			SELECT $1, coalesce(max(key_account) + 1, 0) FROM merchants RETURNING id, key_account`, name).Scan(&m.ID, &m.KeyAccount)
		if err == nil {
			return m, nil
		}
		if !isUniqueViolation(err) || attempt > 5 {
			return Merchant{}, fmt.Errorf("create merchant: %w", err)
		}
	}
}

// Wallet is a deposit address of a merchant's customer.
type Wallet struct {
	ID         int64
	MerchantID int64
	Currency   string
	ExtID      string
	Chain      string
	Address    string
	Index      uint32
}

// ErrUnknownCurrency is returned for currencies sluice does not take.
var ErrUnknownCurrency = errors.New("unknown currency (one of BTC, LTC, ETH, USDT)")

// ValidExtID checks a customer id as the API receives it.
func ValidExtID(extID string) error {
	if extID == "" {
		return errors.New("extId is missing")
	}
	if len(extID) > 128 {
		return fmt.Errorf("extId is %d characters; at most 128", len(extID))
	}
	for _, r := range extID {
		if r < 0x20 || r == 0x7f {
			return errors.New("extId has control characters")
		}
	}
	return nil
}

// WalletFor returns the deposit wallet of (merchant, currency, extID),
// creating it on first use: the same triple gets the same address forever,
// also when several processes ask at once. created tells which happened.
func (l *Ledger) WalletFor(ctx context.Context, merchantID int64, currency, extID string) (w Wallet, created bool, err error) {
	chain := chainOf[currency]
	if chain == "" {
		return Wallet{}, false, fmt.Errorf("%q: %w", currency, ErrUnknownCurrency)
	}
	if err := ValidExtID(extID); err != nil {
		return Wallet{}, false, err
	}
	if w, err := l.findWallet(ctx, l.DB, merchantID, currency, extID); err == nil {
		return w, false, nil
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return Wallet{}, false, err
	}

	tx, err := l.DB.Begin(ctx)
	if err != nil {
		return Wallet{}, false, fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	var account uint32
	if err := tx.QueryRow(ctx, "SELECT key_account FROM merchants WHERE id = $1", merchantID).Scan(&account); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return Wallet{}, false, fmt.Errorf("merchant %d does not exist", merchantID)
		}
		return Wallet{}, false, fmt.Errorf("ledger: %w", err)
	}
	// Take the next index under the counter's row lock: concurrent creators
	// for this merchant and currency queue here, so each sees the others' commits.
	var index uint32
	if err := tx.QueryRow(ctx, `INSERT INTO wallet_counters (merchant_id, currency, next_index) VALUES ($1, $2, 1)
		ON CONFLICT (merchant_id, currency) DO UPDATE SET next_index = wallet_counters.next_index + 1
		RETURNING next_index - 1`, merchantID, currency).Scan(&index); err != nil {
		return Wallet{}, false, fmt.Errorf("ledger: %w", err)
	}
	// Someone may have created the wallet while we waited for the lock.
	if w, err := l.findWallet(ctx, tx, merchantID, currency, extID); err == nil {
		return w, false, nil // the rollback returns the index we took
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return Wallet{}, false, err
	}
	addr, err := l.Keys.Address(currency, account, index)
	if err != nil {
		return Wallet{}, false, fmt.Errorf("derive %s address %d/%d: %w", currency, account, index, err)
	}
	w = Wallet{MerchantID: merchantID, Currency: currency, ExtID: extID, Chain: chain, Address: addr, Index: index}
	if err := tx.QueryRow(ctx, `INSERT INTO wallets (merchant_id, currency, ext_id, chain, address, derivation_index)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, merchantID, currency, extID, chain, addr, index).Scan(&w.ID); err != nil {
		return Wallet{}, false, fmt.Errorf("ledger: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Wallet{}, false, fmt.Errorf("ledger: %w", err)
	}
	if l.Watch != nil {
		if err := l.Watch(ctx, w); err != nil {
			// the wallet exists; the start-up check of the watch set adds it again
			return w, true, fmt.Errorf("wallet %s created, but not yet watched: %w", w.Address, err)
		}
	}
	return w, true, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (l *Ledger) findWallet(ctx context.Context, q querier, merchantID int64, currency, extID string) (Wallet, error) {
	w := Wallet{MerchantID: merchantID, Currency: currency, ExtID: extID}
	err := q.QueryRow(ctx, `SELECT id, chain, address, derivation_index FROM wallets
		WHERE merchant_id = $1 AND currency = $2 AND ext_id = $3`, merchantID, currency, extID).Scan(&w.ID, &w.Chain, &w.Address, &w.Index)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return w, fmt.Errorf("ledger: %w", err)
	}
	return w, err
}
