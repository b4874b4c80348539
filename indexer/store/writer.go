package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/stores"
)

// Writer writes the chain index. One Writer per process; safe for
// concurrent use by the indexers of different chains.
type Writer struct {
	ch *stores.ClickHouse

	mu      sync.Mutex
	version uint64 // last block_status version handed out

	blocks  *prometheus.CounterVec
	rows    *prometheus.CounterVec
	seconds *prometheus.HistogramVec
}

// NewWriter returns a Writer whose metrics are registered with reg.
func NewWriter(ch *stores.ClickHouse, reg prometheus.Registerer) *Writer {
	w := &Writer{
		ch: ch,
		blocks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_index_blocks_written_total", Help: "Blocks written to ClickHouse."}, []string{"chain"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_index_rows_written_total", Help: "Rows written to ClickHouse, all tables."}, []string{"chain"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sluice_index_write_duration_seconds", Help: "Time to write one batch to ClickHouse.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}, []string{"chain"}),
	}
	if reg != nil {
		reg.MustRegister(w.blocks, w.rows, w.seconds)
	}
	return w
}

func (w *Writer) observe(chain string, blocks, rows int, d time.Duration) {
	w.blocks.WithLabelValues(chain).Add(float64(blocks))
	w.rows.WithLabelValues(chain).Add(float64(rows))
	w.seconds.WithLabelValues(chain).Observe(d.Seconds())
}

// nextVersion is a strictly increasing block_status version (nanoseconds),
// so the latest canonical flag always wins, also across restarts.
func (w *Writer) nextVersion() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := uint64(time.Now().UnixNano())
	if v <= w.version {
		v = w.version + 1
	}
	w.version = v
	return v
}

// tableInsert is one table's part of a batch, column by column.
type tableInsert struct {
	table string
	rows  int
	cols  string
	data  []any
}

// writeBatch inserts each non-empty table of a batch, then the blocks and
// block_status rows that make the batch visible, and records the metrics.
func (w *Writer) writeBatch(ctx context.Context, chain string, start time.Time, inserts []tableInsert, refs []BlockRow) error {
	rows := 0
	for _, ins := range inserts {
		if ins.rows == 0 {
			continue
		}
		n, err := w.insertColumns(ctx, ins.table, ins.cols, ins.data)
		if err != nil {
			return err
		}
		rows += n
	}
	if err := w.writeBlocks(ctx, chain, refs); err != nil {
		return err
	}
	w.observe(chain, len(refs), rows+2*len(refs), time.Since(start))
	return nil
}

// BlockRow is a block as the blocks table holds it.
type BlockRow struct {
	Height   int64
	Hash     string
	PrevHash string
	Time     time.Time
	TxCount  int
	Size     int
}

// writeBlocks records blocks and marks them canonical: the last step of a batch.
func (w *Writer) writeBlocks(ctx context.Context, chain string, bs []BlockRow) error {
	var (
		chains, hashes, prevs []string
		heights               []uint64
		times                 []time.Time
		txs, sizes            []uint32
	)
	for _, b := range bs {
		chains = append(chains, chain)
		hashes = append(hashes, b.Hash)
		prevs = append(prevs, b.PrevHash)
		heights = append(heights, uint64(b.Height))
		times = append(times, b.Time)
		txs = append(txs, uint32(b.TxCount))
		sizes = append(sizes, uint32(b.Size))
	}
	if _, err := w.insertColumns(ctx, "blocks", "chain, height, hash, prev_hash, time, tx_count, size",
		[]any{chains, heights, hashes, prevs, times, txs, sizes}); err != nil {
		return err
	}
	return w.setStatus(ctx, chain, bs, 1)
}

func (w *Writer) setStatus(ctx context.Context, chain string, bs []BlockRow, canonical uint8) error {
	var (
		chains, hashes []string
		heights, vers  []uint64
		flags          []uint8
	)
	for _, b := range bs {
		chains = append(chains, chain)
		hashes = append(hashes, b.Hash)
		heights = append(heights, uint64(b.Height))
		flags = append(flags, canonical)
		vers = append(vers, w.nextVersion())
	}
	_, err := w.insertColumns(ctx, "block_status", "chain, hash, height, canonical, version",
		[]any{chains, hashes, heights, flags, vers})
	return err
}

// Orphan marks blocks as no longer canonical; readers stop seeing their rows.
func (w *Writer) Orphan(ctx context.Context, chain string, bs []BlockRow) error {
	if len(bs) == 0 {
		return nil
	}
	return w.setStatus(ctx, chain, bs, 0)
}

// dataTables are the tables whose rows belong to a block, cleaned on resume,
// with their height column.
var dataTables = []struct{ name, height string }{
	{"outputs", "block_height"}, {"address_outputs", "block_height"}, {"inputs", "block_height"},
	{"transactions", "block_height"}, {"eth_blocks", "height"}, {"eth_transactions", "block_height"},
	{"token_transfers", "block_height"}, {"internal_transfers", "block_height"},
	{"transfer_logs_unparsed", "block_height"}, {"eth_address_transfers", "block_height"},
	{"blocks", "height"}, {"block_status", "height"},
}

// CleanAbove deletes every row of chain above height: what a crash left of a
// batch that was never committed. It waits until ClickHouse has applied the
// deletes, so nothing half-written is ever visible after a restart.
func (w *Writer) CleanAbove(ctx context.Context, chain string, height int64) error {
	if !validChain(chain) {
		return fmt.Errorf("invalid chain id %q", chain)
	}
	var dirty []string
	for _, dt := range dataTables {
		t := dt.name
		where := fmt.Sprintf("chain = '%s'", chain)
		if height >= 0 {
			where += fmt.Sprintf(" AND %s > %d", dt.height, height)
		}
		var n uint64
		if err := w.ch.QueryRow(ctx, "SELECT count() FROM "+t+" WHERE "+where).Scan(&n); err != nil {
			return fmt.Errorf("count %s rows above %d: %w", t, height, err)
		}
		if n == 0 {
			continue
		}
		dirty = append(dirty, t)
		if err := w.ch.Exec(ctx, "ALTER TABLE "+t+" DELETE WHERE "+where); err != nil {
			return fmt.Errorf("delete %s rows above %d: %w", t, height, err)
		}
	}
	for _, t := range dirty {
		if err := w.waitMutations(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// validChain keeps chain ids to what can be spliced into SQL safely.
func validChain(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func (w *Writer) waitMutations(ctx context.Context, table string) error {
	for {
		var pending uint64
		if err := w.ch.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = ? AND is_done = 0",
			table).Scan(&pending); err != nil {
			return fmt.Errorf("wait for deletes on %s: %w", table, err)
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
