package ethsweep

import (
	"context"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"
)

// Ledger is what the nonce manager reads from the sweeps table: a
// *pgxpool.Pool (or a transaction) satisfies it.
type Ledger interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// nextNonce is the nonce the next transaction from addr takes: the larger of
// the node's pending count (every transaction it has, mined or in its pool)
// and one more than the highest nonce of addr's live sweeps, which covers
// signed transactions not yet broadcast and ones the node lost.
func (c *Chain) nextNonce(ctx context.Context, addr common.Address) (uint64, error) {
	pending, err := c.eth.PendingNonceAt(ctx, addr)
	if err != nil {
		return 0, fmt.Errorf("pending nonce of %s: %w", addr.Hex(), err)
	}
	var highest *int64
	if err := c.db.QueryRow(ctx, `SELECT max(nonce) FROM sweeps
		WHERE chain = $1 AND from_address = $2 AND nonce IS NOT NULL AND state NOT IN ('failed', 'replaced')`,
		c.cfg.Chain, addr.Hex()).Scan(&highest); err != nil {
		return 0, fmt.Errorf("ledger: highest nonce of %s: %w", addr.Hex(), err)
	}
	if highest != nil && uint64(*highest)+1 > pending {
		return uint64(*highest) + 1, nil
	}
	return pending, nil
}

// reserved is what addr's signed or broadcast sweeps that are not mined yet
// (nonce at or above mined, its count of mined transactions) will take from
// it: wei (values and the most their gas can cost) and token units per
// currency. The node's balance does not show them yet.
type reserved struct {
	Wei    *big.Int
	Tokens map[string]*big.Int
}

func (r reserved) token(currency string) *big.Int {
	if v, ok := r.Tokens[currency]; ok {
		return v
	}
	return new(big.Int)
}

func (c *Chain) reservedBy(ctx context.Context, addr common.Address, mined uint64) (reserved, error) {
	res := reserved{Wei: new(big.Int), Tokens: map[string]*big.Int{}}
	rows, err := c.db.Query(ctx, `SELECT currency, kind, amount::text, fee_network::text FROM sweeps
		WHERE chain = $1 AND from_address = $2 AND state IN ('signed', 'broadcast') AND nonce >= $3`,
		c.cfg.Chain, addr.Hex(), int64(mined))
	if err != nil {
		return res, fmt.Errorf("ledger: pending sweeps of %s: %w", addr.Hex(), err)
	}
	defer rows.Close()
	for rows.Next() {
		var cur, kind, amount, fee string
		if err := rows.Scan(&cur, &kind, &amount, &fee); err != nil {
			return res, fmt.Errorf("ledger: pending sweeps of %s: %w", addr.Hex(), err)
		}
		a, ok1 := new(big.Int).SetString(amount, 10)
		f, ok2 := new(big.Int).SetString(fee, 10)
		if !ok1 || !ok2 {
			return res, fmt.Errorf("ledger: pending sweep of %s has amount %q, fee %q", addr.Hex(), amount, fee)
		}
		res.Wei.Add(res.Wei, f)
		if c.native(cur, kind) {
			res.Wei.Add(res.Wei, a)
			continue
		}
		cur = strings.ToUpper(cur)
		if res.Tokens[cur] == nil {
			res.Tokens[cur] = new(big.Int)
		}
		res.Tokens[cur].Add(res.Tokens[cur], a)
	}
	return res, rows.Err()
}
