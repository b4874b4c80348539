package explorer

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/stores"
)

// Resolver fills address_spends for the Bitcoin-family chains: for every
// canonical block past its progress it joins the block's inputs with the
// outputs they spend, in ClickHouse, and records the block as done. It
// runs beside the indexer, never in its way; a reorg below its progress
// sends it back (rows of the abandoned blocks stay, hidden by their hash),
// and running a block twice writes the same rows, which reads de-duplicate.
type Resolver struct {
	CH     *stores.ClickHouse
	Chains []string // btc, ltc
	Log    *slog.Logger
	// Interval between rounds (default 2 s); Batch is the most blocks one
	// statement resolves (default 500).
	Interval time.Duration
	Batch    uint64
	Height   *prometheus.GaugeVec // sluice_explorer_spends_resolved_height{chain}; may be nil
}

// NewResolvedGauge registers sluice_explorer_spends_resolved_height.
func NewResolvedGauge(reg prometheus.Registerer) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_explorer_spends_resolved_height",
		Help: "The height up to which the explorer knows the spends of each address (address_spends), per chain."}, []string{"chain"})
	reg.MustRegister(g)
	return g
}

// reorgStepBack is how far the resolver goes back when the block it
// stopped at is no longer canonical: redoing blocks is harmless.
const reorgStepBack = 100

// Run resolves until ctx ends; errors are logged and retried.
func (r *Resolver) Run(ctx context.Context) {
	if r.Interval == 0 {
		r.Interval = 2 * time.Second
	}
	for ctx.Err() == nil {
		for _, chain := range r.Chains {
			if _, err := r.Round(ctx, chain); err != nil && ctx.Err() == nil {
				r.Log.Warn("resolving spends failed; retrying", "chain", chain, "err", err)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.Interval):
		}
	}
}

// resolved is a chain's progress: the last block done (-1 for none).
func resolved(ctx context.Context, ch *stores.ClickHouse, chain string) (int64, string, error) {
	var h int64
	var hash string
	var n uint64
	err := ch.QueryRow(ctx, `SELECT argMax(height, version), argMax(hash, version), count() FROM spend_progress WHERE chain = ?`, chain).
		Scan(&h, &hash, &n)
	if err != nil {
		return 0, "", fmt.Errorf("chain index: %w", err)
	}
	if n == 0 {
		return -1, "", nil
	}
	return h, hash, nil
}

// canonicalAt is the canonical block hash at height ("" if none).
func canonicalAt(ctx context.Context, ch *stores.ClickHouse, chain string, height int64) (string, error) {
	rows, err := ch.Query(ctx, `SELECT hash FROM blocks WHERE chain = ? AND height = ? AND hash NOT IN (`+orphaned+`) LIMIT 1`,
		chain, uint64(height), chain)
	if err != nil {
		return "", fmt.Errorf("chain index: %w", err)
	}
	defer rows.Close()
	hash := ""
	if rows.Next() {
		if err := rows.Scan(&hash); err != nil {
			return "", err
		}
	}
	return hash, rows.Err()
}

// Round resolves up to Batch blocks of chain and returns the new progress.
func (r *Resolver) Round(ctx context.Context, chain string) (int64, error) {
	if r.Batch == 0 {
		r.Batch = 500
	}
	done, doneHash, err := resolved(ctx, r.CH, chain)
	if err != nil {
		return 0, err
	}
	if done >= 0 {
		h, err := canonicalAt(ctx, r.CH, chain, done)
		if err != nil {
			return 0, err
		}
		if h != doneHash {
			back := max(done-reorgStepBack, -1)
			r.Log.Info("the block the spend resolver stopped at left the chain; going back", "chain", chain, "height", done, "to", back)
			done = back
		}
	}
	var tip uint64
	if err := r.CH.QueryRow(ctx, "SELECT max(height) FROM blocks WHERE chain = ?", chain).Scan(&tip); err != nil {
		return 0, fmt.Errorf("chain index: %w", err)
	}
	if int64(tip) <= done {
		r.gauge(chain, done)
		return done, nil
	}
	from, to := uint64(done+1), min(tip, uint64(done+1)+r.Batch-1)
	// inputs of the range's canonical blocks, joined with the outputs they
	// spend (the right side is only those outputs); coinbases spend nothing
	err = r.CH.Exec(ctx, `INSERT INTO address_spends (chain, address, block_height, block_hash, block_time, txid, n, prev_txid, prev_vout, value)
		SELECT chain, spent_address, block_height, block_hash, block_time, txid, n, prev_txid, prev_vout, spent_value FROM (
			SELECT chain, block_height, block_hash, block_time, txid, n, prev_txid, prev_vout FROM inputs
			WHERE chain = ? AND block_height >= ? AND block_height <= ? AND is_coinbase = 0
				AND block_hash NOT IN (`+orphaned+`)
		) ANY INNER JOIN (
			SELECT txid AS prev_txid, n AS prev_vout, any(address) AS spent_address, any(value) AS spent_value FROM outputs
			WHERE chain = ? AND address != '' AND txid IN (
				SELECT prev_txid FROM inputs WHERE chain = ? AND block_height >= ? AND block_height <= ? AND is_coinbase = 0)
			GROUP BY prev_txid, prev_vout
		) USING (prev_txid, prev_vout)`, chain, from, to, chain, chain, chain, from, to)
	if err != nil {
		return 0, fmt.Errorf("resolve %s spends of blocks %d..%d: %w", chain, from, to, err)
	}
	hash, err := canonicalAt(ctx, r.CH, chain, int64(to))
	if err != nil {
		return 0, err
	}
	if err := insertRow(ctx, r.CH, "spend_progress", "chain, height, hash, version", chain, int64(to), hash, uint64(time.Now().UnixNano())); err != nil {
		return 0, err
	}
	r.gauge(chain, int64(to))
	return int64(to), nil
}

func (r *Resolver) gauge(chain string, h int64) {
	if r.Height != nil {
		r.Height.WithLabelValues(chain).Set(float64(h))
	}
}

// insertRow inserts one row (ClickHouse takes data only as a batch).
func insertRow(ctx context.Context, ch *stores.ClickHouse, table, cols string, vals ...any) error {
	b, err := ch.PrepareBatch(ctx, "INSERT INTO "+table+" ("+cols+")")
	if err != nil {
		return fmt.Errorf("chain index: insert into %s: %w", table, err)
	}
	defer b.Close()
	if err := b.Append(vals...); err != nil {
		return fmt.Errorf("chain index: insert into %s: %w", table, err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("chain index: insert into %s: %w", table, err)
	}
	return nil
}
