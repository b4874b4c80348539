package health

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// SyncGate answers whether a chain's index is close to its node's tip:
// wallets and receive addresses of a chain whose index lags would see their
// payments late, so the API refuses them (503) until it catches up.
type SyncGate struct {
	DB     *pgxpool.Pool
	Tips   map[string]func(ctx context.Context) (int64, error) // the node's tip per chain
	MaxLag int64                                               // blocks (default 3)
	TTL    time.Duration                                       // answers are reused this long (default 2 s)

	mu    sync.Mutex
	cache map[string]gateAnswer
}

type gateAnswer struct {
	err error
	at  time.Time
}

// Synced is nil when chain's index is within MaxLag blocks of its node.
func (g *SyncGate) Synced(ctx context.Context, chain string) error {
	ttl := g.TTL
	if ttl == 0 {
		ttl = 2 * time.Second
	}
	g.mu.Lock()
	if a, ok := g.cache[chain]; ok && time.Since(a.at) < ttl {
		g.mu.Unlock()
		return a.err
	}
	g.mu.Unlock()
	err := g.check(ctx, chain)
	g.mu.Lock()
	if g.cache == nil {
		g.cache = map[string]gateAnswer{}
	}
	g.cache[chain] = gateAnswer{err: err, at: time.Now()}
	g.mu.Unlock()
	return err
}

func (g *SyncGate) check(ctx context.Context, chain string) error {
	tip, ok := g.Tips[chain]
	if !ok {
		return fmt.Errorf("%s is not configured", chain)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	node, err := tip(ctx)
	if err != nil {
		return fmt.Errorf("its node does not answer")
	}
	var indexed int64 = -1
	if err := g.DB.QueryRow(ctx, "SELECT coalesce(max(height), -1) FROM chain_checkpoints WHERE chain = $1", chain).Scan(&indexed); err != nil {
		return fmt.Errorf("the ledger does not answer")
	}
	maxLag := g.MaxLag
	if maxLag == 0 {
		maxLag = 3
	}
	if indexed < 0 {
		return fmt.Errorf("nothing indexed yet (node at %d); is `sluice index` (or serve) running?", node)
	}
	if node-indexed > maxLag {
		return fmt.Errorf("indexed to %d of %d", indexed, node)
	}
	return nil
}
