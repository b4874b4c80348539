package payments

import (
	"context"
	"fmt"
	"time"
)

// DepositRow is a deposit as operators list it.
type DepositRow struct {
	ID            int64  `json:"id"`
	MerchantID    int64  `json:"merchant_id"`
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
}

// ListFilter narrows ListDeposits; zero values match everything.
type ListFilter struct {
	MerchantID int64
	Currency   string
	Limit      int
}

// ListDeposits returns the newest deposits first.
func (l *Ledger) ListDeposits(ctx context.Context, f ListFilter) ([]DepositRow, error) {
	if f.Limit <= 0 || f.Limit > 10_000 {
		f.Limit = 100
	}
	rows, err := l.DB.Query(ctx, `SELECT d.id, w.merchant_id, w.ext_id, d.currency, w.address, d.amount::text, d.txid, d.position,
			d.from_address, d.confirmations, d.status, d.donation, d.block_height, d.created_at
		FROM deposits d JOIN wallets w ON w.id = d.wallet_id
		WHERE ($1 = 0 OR w.merchant_id = $1) AND ($2 = '' OR d.currency = $2)
		ORDER BY d.id DESC LIMIT $3`, f.MerchantID, f.Currency, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	var out []DepositRow
	for rows.Next() {
		var d DepositRow
		if err := rows.Scan(&d.ID, &d.MerchantID, &d.ExtID, &d.Currency, &d.Address, &d.Amount, &d.TxID, &d.Position,
			&d.From, &d.Confirmations, &d.Status, &d.Donation, &d.BlockHeight, &d.CreatedAt); err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
