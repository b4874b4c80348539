// Package bench measures sluice's pipelines next to their limits, measured
// in the same run on the same data: what `sluice bench` prints and what
// BENCHMARKS.md records.
package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/sluicepay/sluice/indexer"
	"github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/stores"
)

// IngestOptions say what to ingest and where.
type IngestOptions struct {
	Chain     string // btc or ltc (the decoder's rules)
	Params    *bitcoin.Params
	Raw       [][]byte // serialized blocks, cycled to make Blocks blocks
	Blocks    int
	Workers   int
	BatchRows int
	CH        *stores.ClickHouse // a scratch database with the schema applied
	Redis     *redis.Client
	Progress  io.Writer
}

// Rate is one measurement.
type Rate struct {
	Seconds    float64 `json:"seconds"`
	BlocksPerS float64 `json:"blocks_per_s"`
	TxPerS     float64 `json:"tx_per_s"`
	RowsPerS   float64 `json:"rows_per_s"`
}

// IngestResult is the whole run.
type IngestResult struct {
	Chain        string  `json:"chain"`
	Blocks       int     `json:"blocks"`
	Txs          int     `json:"txs"`
	Rows         int     `json:"rows"`
	Bytes        int     `json:"bytes"`
	Workers      int     `json:"workers"`
	BatchRows    int     `json:"batch_rows"`
	Pipeline     Rate    `json:"pipeline"`
	DecodeLimit  Rate    `json:"decode_limit"`
	InsertLimit  Rate    `json:"insert_limit"`
	RatioToLimit float64 `json:"ratio_to_limit"` // pipeline rows/s over the smaller limit's rows/s
}

func rate(d time.Duration, blocks, txs, rows int) Rate {
	s := d.Seconds()
	return Rate{Seconds: s, BlocksPerS: float64(blocks) / s, TxPerS: float64(txs) / s, RowsPerS: float64(rows) / s}
}

// fakeHash gives block h of the synthetic chain a unique hash, so the
// repeated real blocks form a chain the follower accepts.
func fakeHash(h int64) string {
	if h < 0 {
		return "0000000000000000000000000000000000000000000000000000000000000000"
	}
	s := sha256.Sum256([]byte(fmt.Sprint("sluice-bench-", h)))
	return hex.EncodeToString(s[:])
}

// memSource serves the synthetic chain: real block bytes, decoded on every
// fetch as from a node, re-linked by height.
type memSource struct {
	raw    [][]byte
	n      int64
	params *bitcoin.Params
}

func (m *memSource) Tip(context.Context) (int64, string, error) {
	return m.n - 1, fakeHash(m.n - 1), nil
}

func (m *memSource) HashAt(_ context.Context, h int64) (string, error) {
	if h < 0 || h >= m.n {
		return "", indexer.ErrNoBlock
	}
	return fakeHash(h), nil
}

func (m *memSource) Fetch(_ context.Context, h int64, hash string) (bitcoin.Indexed, error) {
	b, err := bitcoin.Decode(m.raw[h%int64(len(m.raw))], m.params)
	if err != nil {
		return bitcoin.Indexed{}, err
	}
	b.Hash, b.PrevHash = hash, fakeHash(h-1)
	return bitcoin.Indexed{H: h, B: b}, nil
}

// memCheckpoints keep the bench's checkpoint in memory: the ledger is not
// what is measured, and the run must not touch it.
type memCheckpoints struct {
	mu sync.Mutex
	r  *indexer.Ref
}

func (m *memCheckpoints) Load(context.Context, string) (indexer.Ref, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.r == nil {
		return indexer.Ref{}, false, nil
	}
	return *m.r, true, nil
}

func (m *memCheckpoints) Save(_ context.Context, _ string, r indexer.Ref) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.r = &r
	return nil
}

// Ingest runs the three measurements.
func Ingest(ctx context.Context, o IngestOptions) (*IngestResult, error) {
	if len(o.Raw) == 0 || o.Blocks <= 0 {
		return nil, fmt.Errorf("nothing to ingest")
	}
	src := &memSource{raw: o.Raw, n: int64(o.Blocks), params: o.Params}
	res := &IngestResult{Chain: o.Chain, Blocks: o.Blocks, Workers: o.Workers, BatchRows: o.BatchRows}
	logf := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}

	// 1. decode-only limit: the same decoding, same parallelism, nothing written
	logf("decode-only limit: %d blocks on %d workers", o.Blocks, o.Workers)
	decoded := make([]bitcoin.Indexed, o.Blocks)
	errs := make([]error, o.Workers)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := w; h < o.Blocks; h += o.Workers {
				b, err := src.Fetch(ctx, int64(h), fakeHash(int64(h)))
				if err != nil {
					errs[w] = err
					return
				}
				decoded[h] = b
			}
		}()
	}
	wg.Wait()
	decodeTime := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
	}
	for _, b := range decoded {
		res.Txs += len(b.B.Txs)
		res.Rows += b.Rows()
		res.Bytes += b.B.Size
	}
	res.DecodeLimit = rate(decodeTime, res.Blocks, res.Txs, res.Rows)

	// 2. insert-only limit: the same rows, already decoded, in the same batches
	w := store.NewWriter(o.CH, prometheus.NewRegistry())
	insertChain := o.Chain + "_bench_insert"
	logf("insert-only limit: %d rows into ClickHouse in batches of %d rows", res.Rows, o.BatchRows)
	start = time.Now()
	for i := 0; i < len(decoded); {
		j, rows := i, 0
		for j < len(decoded) && (rows < o.BatchRows || j == i) {
			rows += decoded[j].Rows()
			j++
		}
		if err := w.WriteBitcoin(ctx, insertChain, decoded[i:j]); err != nil {
			return nil, fmt.Errorf("insert: %w", err)
		}
		i = j
	}
	res.InsertLimit = rate(time.Since(start), res.Blocks, res.Txs, res.Rows)
	decoded = nil // free before the pipeline run

	// 3. the full pipeline: parallel fetch+decode, ordered checks, batches, events, checkpoints
	pipeChain := o.Chain + "_bench"
	logf("full pipeline: %d blocks through the follower", o.Blocks)
	f := indexer.NewFollower[bitcoin.Indexed](indexer.Options{
		Chain: pipeChain, Workers: o.Workers, BatchRows: o.BatchRows, MaxReorg: 100,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, src, store.BitcoinSink{W: w, Chain: pipeChain}, &memCheckpoints{},
		indexer.RedisPublisher{Client: o.Redis}, indexer.NewMetrics(prometheus.NewRegistry()))
	start = time.Now()
	if err := f.SyncOnce(ctx); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	res.Pipeline = rate(time.Since(start), res.Blocks, res.Txs, res.Rows)
	_ = o.Redis.Del(ctx, indexer.StreamKey(pipeChain)).Err()

	res.RatioToLimit = res.Pipeline.RowsPerS / min(res.DecodeLimit.RowsPerS, res.InsertLimit.RowsPerS)
	return res, nil
}
