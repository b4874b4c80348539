package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/payments/keys"
)

// chainOf returns the chain of a currency the ledger knows ("" when
// unknown); whether this sluice takes it is Ledger.Networks.
func (l *Ledger) chainOf(currency string) string {
	c, _ := l.Chains.Lookup(currency)
	return c.Chain
}

// Deriver gives the deposit address of (currency, account, index); the
// keys package's Seed is one, bound to the networks in the config.
type Deriver interface {
	Address(currency string, account, index uint32) (string, error)
}

// Ledger is the Postgres ledger.
type Ledger struct {
	DB *pgxpool.Pool
	// Chains is the chain registry of the configuration: what each currency
	// is (its chain, decimals, confirmations); nil knows the built-ins.
	Chains *chain.Registry
	// Keys derives custodial addresses (KeysFromConfig); nil when no master
	// seed is configured, and then only watch-only wallets can be made.
	Keys Deriver
	// Networks maps each currency to the network of its chain
	// (NetworksFromConfig); merchants' watch-only keys are read for it.
	Networks map[string]string
	// Watch, when set, is told of every new wallet after its commit, so the
	// indexers match payments to it (the watch set in Redis).
	Watch func(ctx context.Context, w Wallet) error
	// Used, when set, says which of a chain's addresses the chain index
	// shows any history of (store.UsedAddresses): a derived address that has
	// some is skipped, never handed out (see freshAddress).
	Used func(ctx context.Context, chain string, addrs []string) (map[string]bool, error)
	// Skipped, when set, counts the skipped addresses by currency and reason
	// (NewSkippedAddresses).
	Skipped *prometheus.CounterVec
	// Log receives a line per skipped address; nil is slog.Default().
	Log *slog.Logger
	// Ready, when set, is closed once new wallets may be made (after the
	// start-up gap scan, GapScan); until then WalletFor waits for it.
	Ready <-chan struct{}
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
	// WatchOnly wallets are derived from the merchant's own extended public
	// key (SetXPub): sluice sees their deposits but holds no key to them.
	WatchOnly bool
}

// ErrUnknownCurrency is returned for currencies sluice does not take.
var ErrUnknownCurrency = errors.New("unknown currency")

// ValidExtID checks a customer id as the API receives it. It is compared
// byte for byte, so only one spelling of a text is allowed: UTF-8, no
// control characters, no leading or trailing whitespace (which would make
// "42" and "42 " two customers).
func ValidExtID(extID string) error {
	if extID == "" {
		return errors.New("extId is missing")
	}
	if len(extID) > 128 {
		return fmt.Errorf("extId is %d characters; at most 128", len(extID))
	}
	if !utf8.ValidString(extID) {
		return errors.New("extId is not valid UTF-8")
	}
	for _, r := range extID {
		if r < 0x20 || r == 0x7f {
			return errors.New("extId has control characters")
		}
	}
	if strings.TrimFunc(extID, unicode.IsSpace) != extID {
		if strings.TrimFunc(extID, unicode.IsSpace) == "" {
			return errors.New("extId is only whitespace")
		}
		return errors.New("extId has leading or trailing whitespace")
	}
	return nil
}

// WalletFor returns the deposit wallet of (merchant, currency, extID),
// creating it on first use: the same triple gets the same address forever,
// also when several processes ask at once. created tells which happened.
func (l *Ledger) WalletFor(ctx context.Context, merchantID int64, currency, extID string) (w Wallet, created bool, err error) {
	ch := l.chainOf(currency)
	if ch == "" {
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

	if err := l.ready(ctx); err != nil {
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
	// Read under the counter's lock, which SetXPub takes too: the key cannot
	// change between here and the commit.
	xpub, err := l.xpubOf(ctx, tx, merchantID, currency)
	if err != nil {
		return Wallet{}, false, err
	}
	w = Wallet{MerchantID: merchantID, Currency: currency, ExtID: extID, Chain: ch, Index: index, WatchOnly: xpub != ""}
	derive, err := l.derivation(merchantID, currency, account, xpub)
	if err != nil {
		return Wallet{}, false, err
	}
	// Never an address with history: after a restored backup the counter is
	// behind the addresses customers were given.
	if w.Index, w.Address, err = l.freshAddress(ctx, tx, merchantID, currency, index, derive); err != nil {
		return Wallet{}, false, err
	}
	if err := tx.QueryRow(ctx, `INSERT INTO wallets (merchant_id, currency, ext_id, chain, address, derivation_index, watch_only)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, merchantID, currency, extID, ch, w.Address, w.Index, w.WatchOnly).Scan(&w.ID); err != nil {
		if isUniqueViolation(err) && w.WatchOnly {
			return Wallet{}, false, fmt.Errorf("watch-only %s address %d of merchant %d, %s, is already another wallet's: is the key registered elsewhere too?",
				currency, w.Index, merchantID, w.Address)
		}
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
	err := q.QueryRow(ctx, `SELECT id, chain, address, derivation_index, watch_only FROM wallets
		WHERE merchant_id = $1 AND currency = $2 AND ext_id = $3`, merchantID, currency, extID).Scan(&w.ID, &w.Chain, &w.Address, &w.Index, &w.WatchOnly)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return w, fmt.Errorf("ledger: %w", err)
	}
	return w, err
}

// Errors of SetXPub.
var (
	ErrWatchOnlyCurrency = errors.New("watch-only keys are for BTC and LTC only; ETH and USDT deposits go to custodial addresses from the master seed")
	ErrXPubInUse         = errors.New("wallets were derived from the merchant's registered watch-only key, so it cannot change: customers keep the addresses they were given")
	ErrXPubTaken         = errors.New("another merchant registered this watch-only key: two merchants cannot share deposit addresses")
)

// SetXPub registers the merchant's BIP84 account key (zpub or xpub on
// mainnet, vpub or tpub on test networks; see keys.ParseExtendedPublicKey)
// for currency, BTC or LTC. The merchant's new wallets of that currency are
// then watch-only: their addresses are the key's receive addresses, index by
// index from 0, and sluice holds no key to them. Wallets made before keep
// their addresses. Setting the same key again changes nothing; another key
// is refused (ErrXPubInUse) once a wallet was derived from the current one,
// and so is a key another merchant registered (ErrXPubTaken).
func (l *Ledger) SetXPub(ctx context.Context, merchantID int64, currency, xpub string) error {
	c, known := l.Chains.Lookup(currency)
	switch {
	case !known:
		return fmt.Errorf("%q: %w", currency, ErrUnknownCurrency)
	case c.Family != chain.Bitcoin:
		return fmt.Errorf("%s: %w", currency, ErrWatchOnlyCurrency)
	}
	x, err := l.parseXPub(currency, xpub)
	if err != nil {
		return err
	}
	tx, err := l.DB.Begin(ctx)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM merchants WHERE id = $1)", merchantID).Scan(&exists); err != nil {
		return fmt.Errorf("ledger: %w", err)
	} else if !exists {
		return fmt.Errorf("merchant %d does not exist", merchantID)
	}
	// The counter's row lock, as WalletFor takes it: no wallet of this
	// merchant and currency is being made while the key changes, and every
	// one made before is visible below.
	if _, err := tx.Exec(ctx, `INSERT INTO wallet_counters (merchant_id, currency, next_index) VALUES ($1, $2, 0)
		ON CONFLICT (merchant_id, currency) DO UPDATE SET next_index = wallet_counters.next_index`, merchantID, currency); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	old, err := l.xpubOf(ctx, tx, merchantID, currency)
	if err != nil {
		return err
	}
	if old == x.String() {
		return nil
	}
	if old != "" {
		// The same key in another encoding (xpub for zpub) is no change.
		if o, err := l.parseXPub(currency, old); err == nil {
			a, errA := o.Address(0)
			b, errB := x.Address(0)
			if errA == nil && errB == nil && a == b {
				return nil
			}
		}
	}
	var other int64
	if err := tx.QueryRow(ctx, "SELECT merchant_id FROM merchant_xpubs WHERE currency = $1 AND xpub = $2 AND merchant_id <> $3 LIMIT 1",
		currency, x.String(), merchantID).Scan(&other); err == nil {
		return fmt.Errorf("merchant %d %s: %w", merchantID, currency, ErrXPubTaken)
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("ledger: %w", err)
	}
	var used bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM wallets WHERE merchant_id = $1 AND currency = $2 AND watch_only)",
		merchantID, currency).Scan(&used); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if used {
		return fmt.Errorf("merchant %d %s: %w", merchantID, currency, ErrXPubInUse)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO merchant_xpubs (merchant_id, currency, xpub) VALUES ($1, $2, $3)
		ON CONFLICT (merchant_id, currency) DO UPDATE SET xpub = EXCLUDED.xpub`, merchantID, currency, x.String()); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	// The key's first wallet takes its index 0, whatever the seed used: a
	// wallet app only looks a few unused addresses ahead (the gap limit).
	if _, err := tx.Exec(ctx, "UPDATE wallet_counters SET next_index = 0 WHERE merchant_id = $1 AND currency = $2",
		merchantID, currency); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// xpubOf is the merchant's registered watch-only key for currency, "" if none.
func (l *Ledger) xpubOf(ctx context.Context, q querier, merchantID int64, currency string) (string, error) {
	var xpub string
	err := q.QueryRow(ctx, "SELECT xpub FROM merchant_xpubs WHERE merchant_id = $1 AND currency = $2", merchantID, currency).Scan(&xpub)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("ledger: %w", err)
	}
	return xpub, nil
}

// parseXPub reads a watch-only key of currency for its configured network.
func (l *Ledger) parseXPub(currency, xpub string) (*keys.XPub, error) {
	network, ok := l.Networks[currency]
	if !ok {
		return nil, fmt.Errorf("%s watch-only key: %s is not configured on this sluice (no enabled chains.%s section)",
			currency, currency, l.chainOf(currency))
	}
	x, err := keys.ParseExtendedPublicKey(xpub, l.chainOf(currency), network)
	if err != nil {
		return nil, fmt.Errorf("%s watch-only key: %w", currency, err)
	}
	return x, nil
}
