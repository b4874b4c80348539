package store

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicepay/sluice/indexer"
	"github.com/sluicepay/sluice/stores"
)

// Recent lists the canonical blocks of chain at heights >= from, ascending:
// for each block the latest block_status row decides.
func Recent(ctx context.Context, ch *stores.ClickHouse, chain string, from int64) ([]indexer.Ref, error) {
	rows, err := ch.Query(ctx, `
		SELECT height, hash, prev_hash, time FROM blocks
		WHERE chain = ? AND height >= ? AND hash IN (
			SELECT hash FROM block_status WHERE chain = ? AND height >= ?
			GROUP BY hash HAVING argMax(canonical, version) = 1)
		ORDER BY height`, chain, uint64(max(from, 0)), chain, uint64(max(from, 0)))
	if err != nil {
		return nil, fmt.Errorf("read recent %s blocks: %w", chain, err)
	}
	defer rows.Close()
	var out []indexer.Ref
	for rows.Next() {
		var (
			h  uint64
			r  indexer.Ref
			tm time.Time
		)
		if err := rows.Scan(&h, &r.Hash, &r.PrevHash, &tm); err != nil {
			return nil, err
		}
		r.Height, r.Time = int64(h), tm
		if n := len(out); n > 0 && out[n-1].Height == r.Height {
			// blocks rows are replaced on merge only; equal rows for one hash may coexist
			if out[n-1].Hash == r.Hash {
				continue
			}
			return nil, fmt.Errorf("index holds two canonical %s blocks at height %d (%s, %s)", chain, r.Height, out[n-1].Hash, r.Hash)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CanonicalFilter is the WHERE clause that limits a table with chain,
// block_height and block_hash columns to the committed canonical chain.
// Bind chain twice, then chain once more. Only blocks ever marked orphaned
// are grouped (a reorg writes canonical = 0), not the whole block_status of
// the chain: that keeps the filter's cost at a few milliseconds however
// long the chain.
const CanonicalFilter = `chain = ? AND block_hash NOT IN (` + OrphanedBlocks + `)
	AND block_height <= (SELECT max(height) FROM blocks WHERE chain = ?)`

// OrphanedBlocks lists the hashes of a chain's blocks a reorg took away
// (the latest status row decides); bind chain.
const OrphanedBlocks = `SELECT hash FROM block_status WHERE chain = ? AND hash IN (SELECT hash FROM block_status WHERE canonical = 0)
	GROUP BY hash HAVING argMax(canonical, version) = 0`

// OutputAddress returns the address of output n of txid as the index holds
// it ("" when the index does not have it).
func OutputAddress(ctx context.Context, ch *stores.ClickHouse, chain, txid string, n uint32) (string, error) {
	var addr string
	err := ch.QueryRow(ctx, "SELECT any(address) FROM outputs WHERE chain = ? AND txid = ? AND n = ?", chain, txid, n).Scan(&addr)
	if err != nil {
		return "", fmt.Errorf("look up output %s:%d: %w", txid, n, err)
	}
	return addr, nil
}

// Tip returns the highest canonical block of chain (-1 on an empty index).
func Tip(ctx context.Context, ch *stores.ClickHouse, chain string) (int64, error) {
	var top uint64
	var n uint64
	if err := ch.QueryRow(ctx, "SELECT max(height), count() FROM blocks WHERE chain = ?", chain).Scan(&top, &n); err != nil {
		return 0, fmt.Errorf("read the %s tip: %w", chain, err)
	}
	if n == 0 {
		return -1, nil
	}
	// the highest row may be an orphan: read the canonical window just below it
	refs, err := Recent(ctx, ch, chain, int64(top)-200)
	if err != nil {
		return 0, err
	}
	if len(refs) == 0 {
		return -1, nil
	}
	return refs[len(refs)-1].Height, nil
}
