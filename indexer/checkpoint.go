package indexer

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PGCheckpoints keeps checkpoints in the ledger's chain_checkpoints table.
type PGCheckpoints struct {
	DB *pgxpool.Pool
	// Fence, when set, lets Save move the checkpoint only while the Postgres
	// session it names holds the chain's lease (see indexer/lease): an
	// indexer that lost its lease can never move the checkpoint again, even
	// if one of its writes was still in flight when the standby took over.
	Fence *AdvisoryFence
}

// AdvisoryFence names a session-level Postgres advisory lock (the bigint
// form) and the backend that must hold it.
type AdvisoryFence struct {
	Key int64  // the lock key
	PID uint32 // the backend pid of the session holding it
}

// ErrFenced is what Save returns when the checkpoint's fence no longer holds:
// another process is the chain's indexer now.
var ErrFenced = errors.New("this process no longer holds the chain's indexer lease")

// Load returns the chain's checkpoint, if it has one.
func (p PGCheckpoints) Load(ctx context.Context, chain string) (Ref, bool, error) {
	var r Ref
	// FOR UPDATE waits for a Save still committing (a writer that lost its
	// lease an instant ago), so a new writer starts from the latest checkpoint.
	err := p.DB.QueryRow(ctx, "SELECT height, hash FROM chain_checkpoints WHERE chain = $1 FOR UPDATE", chain).Scan(&r.Height, &r.Hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return Ref{}, false, nil
	}
	if err != nil {
		return Ref{}, false, fmt.Errorf("postgres: %w", err)
	}
	return r, true, nil
}

// Save records r as the chain's last committed block.
func (p PGCheckpoints) Save(ctx context.Context, chain string, r Ref) error {
	if p.Fence == nil {
		_, err := p.DB.Exec(ctx, `INSERT INTO chain_checkpoints (chain, height, hash, updated_at) VALUES ($1, $2, $3, now())
			ON CONFLICT (chain) DO UPDATE SET height = EXCLUDED.height, hash = EXCLUDED.hash, updated_at = now()`,
			chain, r.Height, r.Hash)
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		return nil
	}
	// pg_locks shows a bigint advisory key as its high half in classid and
	// its low half in objid, with objsubid 1.
	k := uint64(p.Fence.Key)
	tag, err := p.DB.Exec(ctx, `INSERT INTO chain_checkpoints (chain, height, hash, updated_at)
		SELECT $1, $2, $3, now() WHERE EXISTS (
			SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
				AND classid::bigint = $4 AND objid::bigint = $5 AND pid = $6)
		ON CONFLICT (chain) DO UPDATE SET height = EXCLUDED.height, hash = EXCLUDED.hash, updated_at = now()`,
		chain, r.Height, r.Hash, int64(k>>32), int64(k&0xffffffff), int32(p.Fence.PID))
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrFenced
	}
	return nil
}

// MatchedHeight is the chain's checkpoint height, -1 when there is none,
// read without a lock: every block up to it was written, matched against the
// watch set and announced (Save comes last in a commit).
func MatchedHeight(ctx context.Context, db *pgxpool.Pool, chain string) (int64, error) {
	var h int64
	err := db.QueryRow(ctx, "SELECT height FROM chain_checkpoints WHERE chain = $1", chain).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: read the %s checkpoint: %w", chain, err)
	}
	return h, nil
}
