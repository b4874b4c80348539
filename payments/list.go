package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DepositRow is a deposit as operators list it and the merchant API shows it.
type DepositRow struct {
	ID            int64  `json:"id"`
	MerchantID    int64  `json:"merchant_id"`
	WalletID      int64  `json:"wallet_id"`
	ExtID         string `json:"ext_id"`
	Currency      string `json:"currency"`
	Address       string `json:"address"`
	Amount        string `json:"amount"` // base units
	TxID          string `json:"txid"`
	Position      string `json:"position"`
	From          string `json:"from_address"`
	Confirmations int    `json:"confirmations"`
	Status        int    `json:"status"`
	// Donation: a litepay payment under the 1 USD minimum, kept and not
	// forwarded (no callback is sent for it).
	Donation    bool      `json:"donation"`
	BlockHeight *int64    `json:"block_height"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ListFilter narrows ListDeposits; zero values match everything.
type ListFilter struct {
	MerchantID int64
	Currency   string
	// ExtID: only deposits to the merchant's wallets of this extId.
	ExtID string
	// Address: only deposits to this address, in any letter case.
	Address string
	// WalletID: only deposits to this wallet.
	WalletID int64
	// Status: only deposits in this status (0 seen, 1 confirmed, 2
	// failed); nil: any.
	Status *int
	// Oldest lists in id order from the oldest, with ids above After (a
	// cursor: the last id of the previous page); otherwise newest first.
	Oldest bool
	After  int64
	// Limit: at most this many, up to MaxListDeposits; 0 (or out of range) is 100.
	Limit int
}

// MaxListDeposits is the most ListDeposits returns at once.
const MaxListDeposits = 10_000

// ListDeposits returns the deposits that match f, newest first unless
// f.Oldest; amounts in base units.
func (l *Ledger) ListDeposits(ctx context.Context, f ListFilter) ([]DepositRow, error) {
	if f.Limit <= 0 || f.Limit > MaxListDeposits {
		f.Limit = 100
	}
	status := -1
	if f.Status != nil {
		if *f.Status < 0 {
			return nil, fmt.Errorf("deposit status %d: 0 (seen), 1 (confirmed) or 2 (failed)", *f.Status)
		}
		status = *f.Status
	}
	order := "DESC"
	if f.Oldest {
		order = "ASC"
	}
	rows, err := l.DB.Query(ctx, `SELECT d.id, w.merchant_id, w.id, w.ext_id, d.currency, w.address, d.amount::text, d.txid, d.position,
			d.from_address, d.confirmations, d.status, d.donation, d.block_height, d.created_at, d.updated_at
		FROM deposits d JOIN wallets w ON w.id = d.wallet_id
		WHERE ($1 = 0 OR w.merchant_id = $1) AND ($2 = '' OR d.currency = $2) AND ($3 = '' OR w.ext_id = $3)
			AND ($4 = '' OR lower(w.address) = lower($4)) AND ($5 = 0 OR w.id = $5) AND ($6 < 0 OR d.status = $6)
			AND d.id > $7
		ORDER BY d.id `+order+` LIMIT $8`, f.MerchantID, f.Currency, f.ExtID, f.Address, f.WalletID, status, f.After, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	var out []DepositRow
	for rows.Next() {
		var d DepositRow
		if err := rows.Scan(&d.ID, &d.MerchantID, &d.WalletID, &d.ExtID, &d.Currency, &d.Address, &d.Amount, &d.TxID, &d.Position,
			&d.From, &d.Confirmations, &d.Status, &d.Donation, &d.BlockHeight, &d.CreatedAt, &d.UpdatedAt); err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return out, nil
}

// MerchantWallet is a wallet as its merchant looks it up by address.
type MerchantWallet struct {
	ID        int64
	Address   string
	Currency  string
	ExtID     string
	WatchOnly bool
	CreatedAt time.Time
	// Receive is set for a litepay receive address (forwarding).
	Receive *ReceiveInfo
}

// ReceiveInfo is where a litepay receive address forwards to.
type ReceiveInfo struct {
	Destination string
	// ExpiredAt: when the address stopped being watched (nil: watched).
	ExpiredAt *time.Time
}

// ErrNoWallet is returned when a merchant has no wallet with an address.
var ErrNoWallet = errors.New("no such wallet")

// WalletByAddress returns the merchant's wallet with that address (in any
// letter case), or ErrNoWallet.
func (l *Ledger) WalletByAddress(ctx context.Context, merchantID int64, address string) (MerchantWallet, error) {
	var w MerchantWallet
	var dest *string
	var expired *time.Time
	err := l.DB.QueryRow(ctx, `SELECT w.id, w.address, w.currency, w.ext_id, w.watch_only, w.created_at, ra.destination, ra.expired_at
		FROM wallets w LEFT JOIN receive_addresses ra ON ra.wallet_id = w.id
		WHERE w.merchant_id = $1 AND lower(w.address) = lower($2)`, merchantID, address).
		Scan(&w.ID, &w.Address, &w.Currency, &w.ExtID, &w.WatchOnly, &w.CreatedAt, &dest, &expired)
	if errors.Is(err, pgx.ErrNoRows) {
		return MerchantWallet{}, fmt.Errorf("%w %q of merchant %d", ErrNoWallet, address, merchantID)
	}
	if err != nil {
		return MerchantWallet{}, fmt.Errorf("ledger: %w", err)
	}
	if dest != nil {
		w.Receive = &ReceiveInfo{Destination: *dest, ExpiredAt: expired}
	}
	return w, nil
}

// Confirmations returns the confirmation counts a merchant set for itself,
// by currency (currencies it did not set are absent).
func (l *Ledger) Confirmations(ctx context.Context, merchantID int64) (map[string]int, error) {
	rows, err := l.DB.Query(ctx, "SELECT currency, confirmations FROM merchant_confirmations WHERE merchant_id = $1", merchantID)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	own := map[string]int{}
	for rows.Next() {
		var cur string
		var n int
		if err := rows.Scan(&cur, &n); err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		own[cur] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return own, nil
}
