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
	"github.com/sluicepay/sluice/indexer/ethereum"
	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/stores"
)

// IngestOptions say how much to ingest and where.
type IngestOptions struct {
	Chain     string // btc, ltc or eth
	Blocks    int    // the given blocks, cycled to make this many
	Workers   int
	BatchRows int
	CH        *stores.ClickHouse // a scratch database with the schema applied
	Redis     *redis.Client
	Progress  io.Writer
}

// adapter is what differs between chain families: decoding item i of the
// input as block h of the synthetic chain, writing, and counting.
type adapter[B indexer.Block] struct {
	items  int
	decode func(i int, h int64, hash, prev string) (B, error)
	write  func(w *store.Writer, ctx context.Context, chain string, blocks []B) error
	sink   func(w *store.Writer, chain string) indexer.Sink[B]
	count  func(B) (txs, bytes int)
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

// memSource serves the synthetic chain: real block data, decoded on every
// fetch as from a node, re-linked by height.
type memSource[B indexer.Block] struct {
	n int64
	a adapter[B]
}

func (m *memSource[B]) Tip(context.Context) (int64, string, error) {
	return m.n - 1, fakeHash(m.n - 1), nil
}

func (m *memSource[B]) HashAt(_ context.Context, h int64) (string, error) {
	if h < 0 || h >= m.n {
		return "", indexer.ErrNoBlock
	}
	return fakeHash(h), nil
}

func (m *memSource[B]) Fetch(_ context.Context, h int64, hash string) (B, error) {
	return m.a.decode(int(h%int64(m.a.items)), h, hash, fakeHash(h-1))
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

// IngestBitcoin measures BTC/LTC ingest of the serialized blocks raw.
func IngestBitcoin(ctx context.Context, o IngestOptions, params *bitcoin.Params, raw [][]byte) (*IngestResult, error) {
	return ingest(ctx, o, adapter[bitcoin.Indexed]{
		items: len(raw),
		decode: func(i int, h int64, hash, prev string) (bitcoin.Indexed, error) {
			b, err := bitcoin.Decode(raw[i], params)
			if err != nil {
				return bitcoin.Indexed{}, err
			}
			b.Hash, b.PrevHash = hash, prev
			return bitcoin.Indexed{H: h, B: b}, nil
		},
		write: func(w *store.Writer, ctx context.Context, chain string, bs []bitcoin.Indexed) error {
			return w.WriteBitcoin(ctx, chain, bs)
		},
		sink: func(w *store.Writer, chain string) indexer.Sink[bitcoin.Indexed] {
			return store.NewBitcoinSink(w, chain)
		},
		count: func(b bitcoin.Indexed) (int, int) { return len(b.B.Txs), b.B.Size },
	})
}

// IngestEthereum measures ETH ingest of block+receipts(+traces) bundles.
func IngestEthereum(ctx context.Context, o IngestOptions, bundles []ethereum.Bundle) (*IngestResult, error) {
	return ingest(ctx, o, adapter[ethereum.Indexed]{
		items: len(bundles),
		decode: func(i int, h int64, hash, prev string) (ethereum.Indexed, error) {
			b, err := ethereum.DecodeBlock(bundles[i].Block, bundles[i].Receipts)
			if err != nil {
				return ethereum.Indexed{}, err
			}
			if len(bundles[i].Traces) > 0 {
				if err := ethereum.DecodeTraces(bundles[i].Traces, b); err != nil {
					return ethereum.Indexed{}, err
				}
			}
			b.Number, b.Hash, b.ParentHash = uint64(h), hash, prev
			return ethereum.Indexed{B: b}, nil
		},
		write: func(w *store.Writer, ctx context.Context, chain string, bs []ethereum.Indexed) error {
			return w.WriteEthereum(ctx, chain, bs)
		},
		sink: func(w *store.Writer, chain string) indexer.Sink[ethereum.Indexed] {
			return store.NewEthereumSink(w, chain)
		},
		count: func(b ethereum.Indexed) (int, int) { return len(b.B.Txs), int(b.B.Size) },
	})
}

// ingest runs the three measurements.
func ingest[B indexer.Block](ctx context.Context, o IngestOptions, a adapter[B]) (*IngestResult, error) {
	if a.items == 0 || o.Blocks <= 0 {
		return nil, fmt.Errorf("nothing to ingest")
	}
	src := &memSource[B]{n: int64(o.Blocks), a: a}
	res := &IngestResult{Chain: o.Chain, Blocks: o.Blocks, Workers: o.Workers, BatchRows: o.BatchRows}
	logf := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}

	// 1. decode-only limit: the same decoding, same parallelism, nothing written
	logf("decode-only limit: %d blocks on %d workers", o.Blocks, o.Workers)
	decoded := make([]B, o.Blocks)
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
		txs, bytes := a.count(b)
		res.Txs += txs
		res.Rows += b.Rows()
		res.Bytes += bytes
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
		if err := a.write(w, ctx, insertChain, decoded[i:j]); err != nil {
			return nil, fmt.Errorf("insert: %w", err)
		}
		i = j
	}
	res.InsertLimit = rate(time.Since(start), res.Blocks, res.Txs, res.Rows)
	decoded = nil // free before the pipeline run

	// 3. the full pipeline: parallel fetch+decode, ordered checks, batches, events, checkpoints
	pipeChain := o.Chain + "_bench"
	logf("full pipeline: %d blocks through the follower", o.Blocks)
	f := indexer.NewFollower(indexer.Options[B]{
		Chain: pipeChain, Workers: o.Workers, BatchRows: o.BatchRows, MaxReorg: 100,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, src, a.sink(w, pipeChain), &memCheckpoints{},
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
