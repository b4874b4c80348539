package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicepay/sluice/stores"
)

// SpentBy finds a transaction other than txid, in a canonical block at or
// below maxHeight, that spends one of outpoints ("txid:n"): a double spend
// of txid. It returns "" when there is none.
func SpentBy(ctx context.Context, ch *stores.ClickHouse, chain, txid string, outpoints []string, maxHeight int64) (by string, height int64, err error) {
	if len(outpoints) == 0 || maxHeight < 0 {
		return "", 0, nil
	}
	// A literal tuple list lets ClickHouse use the prevout-ordered key; every
	// part is checked to be hex or a number, so quoting is safe.
	tuples := make([]string, 0, len(outpoints))
	for _, op := range outpoints {
		prev, n, ok := strings.Cut(op, ":")
		if _, err := strconv.ParseUint(n, 10, 32); !ok || err != nil || !isHex(prev) {
			return "", 0, fmt.Errorf("outpoint %q is not txid:n", op)
		}
		tuples = append(tuples, "('"+prev+"', "+n+")")
	}
	var h uint64
	err = ch.QueryRow(ctx, `SELECT txid, block_height FROM inputs
		WHERE (prev_txid, prev_vout) IN (`+strings.Join(tuples, ", ")+`) AND txid != ? AND block_height <= ? AND `+CanonicalFilter+`
		ORDER BY block_height LIMIT 1`, txid, uint64(maxHeight), chain, chain, chain).Scan(&by, &h)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", 0, nil
		}
		return "", 0, fmt.Errorf("look for a double spend of %s: %w", txid, err)
	}
	return by, int64(h), nil
}

// TxInputs lists the outpoints ("txid:n") that txid, in the block at height,
// spends, in input order; none for a coinbase. The height narrows the scan
// to one partition of the prevout-ordered inputs table.
func TxInputs(ctx context.Context, ch *stores.ClickHouse, chain, txid string, height int64) ([]string, error) {
	rows, err := ch.Query(ctx, `SELECT prev_txid, prev_vout FROM inputs
		WHERE chain = ? AND block_height = ? AND txid = ? AND is_coinbase = 0
		GROUP BY n, prev_txid, prev_vout ORDER BY n`, chain, uint64(max(height, 0)), txid)
	if err != nil {
		return nil, fmt.Errorf("inputs of %s: %w", txid, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var prev string
		var n uint32
		if err := rows.Scan(&prev, &n); err != nil {
			return nil, err
		}
		out = append(out, prev+":"+strconv.FormatUint(uint64(n), 10))
	}
	return out, rows.Err()
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}
