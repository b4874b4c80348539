package payments

import (
	"context"
	"fmt"

	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/stores"
)

// Orphan is a deposit whose block a reorg removed, with what a conflicting
// transaction would collide with.
type Orphan struct {
	TxID   string
	Spends []string // outpoints "txid:n" (Bitcoin family)
	Sender string   // Ethereum
	Nonce  *uint64  // Ethereum
}

// ConflictFinder tells whether an orphaned deposit's transaction was
// double-spent or replaced by a transaction in a canonical block at or below
// height, so that it can never be mined again. by describes the conflict for
// logs.
type ConflictFinder interface {
	Conflict(ctx context.Context, o Orphan, height int64) (by string, found bool, err error)
}

// IndexConflicts finds Bitcoin-family double spends in the chain index: a
// canonical transaction spending one of the same outpoints.
type IndexConflicts struct {
	CH    *stores.ClickHouse
	Chain string
}

// Conflict implements ConflictFinder.
func (c IndexConflicts) Conflict(ctx context.Context, o Orphan, height int64) (string, bool, error) {
	by, at, err := store.SpentBy(ctx, c.CH, c.Chain, o.TxID, o.Spends, height)
	if err != nil || by == "" {
		return "", false, err
	}
	return fmt.Sprintf("transaction %s at height %d spends the same output", by, at), true, nil
}

// NonceConflicts finds replaced Ethereum transactions: the sender's nonce
// was used (by another transaction, since this one is not on the chain) as
// of the block at height. Nonce counts from the node.
type NonceConflicts struct {
	NonceAt func(ctx context.Context, sender string, height uint64) (uint64, error)
}

// Conflict implements ConflictFinder.
func (c NonceConflicts) Conflict(ctx context.Context, o Orphan, height int64) (string, bool, error) {
	if o.Sender == "" || o.Nonce == nil || height < 0 {
		return "", false, nil
	}
	n, err := c.NonceAt(ctx, o.Sender, uint64(height))
	if err != nil {
		return "", false, fmt.Errorf("nonce of %s at %d: %w", o.Sender, height, err)
	}
	if n <= *o.Nonce {
		return "", false, nil
	}
	return fmt.Sprintf("nonce %d of %s was used by another transaction", *o.Nonce, o.Sender), true, nil
}
