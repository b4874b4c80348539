package indexer

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PGCheckpoints keeps checkpoints in the ledger's chain_checkpoints table.
type PGCheckpoints struct{ DB *pgxpool.Pool }

// Load returns the chain's checkpoint, if it has one.
func (p PGCheckpoints) Load(ctx context.Context, chain string) (Ref, bool, error) {
	var r Ref
	err := p.DB.QueryRow(ctx, "SELECT height, hash FROM chain_checkpoints WHERE chain = $1", chain).Scan(&r.Height, &r.Hash)
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
	_, err := p.DB.Exec(ctx, `INSERT INTO chain_checkpoints (chain, height, hash, updated_at) VALUES ($1, $2, $3, now())
		ON CONFLICT (chain) DO UPDATE SET height = EXCLUDED.height, hash = EXCLUDED.hash, updated_at = now()`,
		chain, r.Height, r.Hash)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}
