package sweep

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// JobRow is a sweep job as operators list it; amounts in base units.
type JobRow struct {
	ID          int64     `json:"id"`
	Chain       string    `json:"chain"`
	Currency    string    `json:"currency"`
	MerchantID  int64     `json:"merchantId,omitempty"` // 0: a gas top-up
	Kind        string    `json:"kind"`
	State       string    `json:"state"`
	Destination string    `json:"destination"`
	Amount      string    `json:"amount"`
	FeeNetwork  string    `json:"feeNetwork"`
	TxID        string    `json:"txid,omitempty"`
	Attempts    int       `json:"attempts"`
	Error       string    `json:"error,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// JobFilter narrows ListJobs; zero values match everything. Open matches
// the states a job can still leave (planned, signed, broadcast).
type JobFilter struct {
	Chain, State string
	Open         bool
	MerchantID   int64
	Limit        int
}

// ListJobs lists sweep jobs, the oldest open ones first when Open, else
// the newest first.
func ListJobs(ctx context.Context, db *pgxpool.Pool, f JobFilter) ([]JobRow, error) {
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 100
	}
	order := "id DESC"
	if f.Open {
		order = "created_at, id"
	}
	rows, err := db.Query(ctx, `SELECT id, chain, currency, coalesce(merchant_id, 0), kind, state, destination, amount::text,
			fee_network::text, txid, attempts, error, created_at, updated_at
		FROM sweeps
		WHERE ($1 = '' OR chain = $1) AND ($2 = '' OR state = $2) AND ($3 = 0 OR merchant_id = $3)
			AND (NOT $4 OR state IN ('planned', 'signed', 'broadcast'))
		ORDER BY `+order+` LIMIT $5`, f.Chain, f.State, f.MerchantID, f.Open, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	out := []JobRow{}
	for rows.Next() {
		var j JobRow
		if err := rows.Scan(&j.ID, &j.Chain, &j.Currency, &j.MerchantID, &j.Kind, &j.State, &j.Destination, &j.Amount,
			&j.FeeNetwork, &j.TxID, &j.Attempts, &j.Error, &j.CreatedAt, &j.UpdatedAt); err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}
