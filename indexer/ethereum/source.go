package ethereum

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/indexer"
)

// Indexed is a decoded block, the indexer.Block of Ethereum.
type Indexed struct{ B *Block }

func (i Indexed) Height() int64    { return int64(i.B.Number) }
func (i Indexed) Hash() string     { return i.B.Hash }
func (i Indexed) PrevHash() string { return i.B.ParentHash }
func (i Indexed) Time() time.Time  { return i.B.Time }

// Rows approximates the rows the block makes (for batch sizing).
func (i Indexed) Rows() int {
	b := i.B
	return 3 + len(b.Txs)*3 + len(b.Transfers)*3 + len(b.Internal)*3 + len(b.BadTransferLogs)
}

// Source fetches blocks by hash from geth and decodes them for the follower.
type Source struct {
	Node *Node
	// Traces adds internal transfers from debug_traceBlockByHash (geth --dev
	// and archive nodes allow it).
	Traces    bool
	BadBlocks prometheus.Counter
	// UnparsedTransfers counts logs with the Transfer topic but not the
	// ERC-20 shape (stored in transfer_logs_unparsed).
	UnparsedTransfers prometheus.Counter
	Log               *slog.Logger
}

// Tip returns the node's latest block.
func (s *Source) Tip(ctx context.Context) (int64, string, error) {
	h, hash, err := s.Node.Head(ctx, "latest")
	return int64(h), hash, err
}

// HashAt returns the node's main-chain hash at height.
func (s *Source) HashAt(ctx context.Context, height int64) (string, error) {
	if height < 0 {
		return "", fmt.Errorf("height %d: %w", height, indexer.ErrNoBlock)
	}
	return s.Node.HashAt(ctx, uint64(height))
}

// ErrGarbage marks answers from the node that do not decode.
var ErrGarbage = errors.New("node sent garbage")

// Fetch downloads block, receipts (and traces) by hash and decodes them.
func (s *Source) Fetch(ctx context.Context, height int64, hash string) (Indexed, error) {
	b, err := s.fetch(ctx, height, hash)
	if errors.Is(err, ErrGarbage) && s.BadBlocks != nil {
		s.BadBlocks.Inc()
	}
	return Indexed{B: b}, err
}

func (s *Source) fetch(ctx context.Context, height int64, hash string) (*Block, error) {
	raw, receipts, err := s.Node.RawBlock(ctx, hash)
	if err != nil {
		return nil, err
	}
	b, err := DecodeBlock(raw, receipts)
	if err != nil {
		return nil, fmt.Errorf("%w for block %s (height %d): %w", ErrGarbage, hash, height, err)
	}
	if b.Hash != hash || int64(b.Number) != height {
		return nil, fmt.Errorf("%w: asked for block %s at %d, got %s at %d", ErrGarbage, hash, height, b.Hash, b.Number)
	}
	if n := len(b.BadTransferLogs); n > 0 {
		if s.UnparsedTransfers != nil {
			s.UnparsedTransfers.Add(float64(n))
		}
		if s.Log != nil {
			l := b.BadTransferLogs[0]
			s.Log.Info("logs with the Transfer topic but not the ERC-20 shape: kept in transfer_logs_unparsed",
				"block", b.Number, "count", n, "first_tx", l.TxHash, "first_log_index", l.LogIndex, "topics", len(l.Topics))
		}
	}
	if s.Traces && len(b.Txs) > 0 {
		traces, err := s.Node.Traces(ctx, hash)
		if err != nil {
			return nil, err
		}
		if err := DecodeTraces(traces, b); err != nil {
			return nil, fmt.Errorf("%w: traces of block %s (height %d): %w", ErrGarbage, hash, height, err)
		}
	}
	return b, nil
}
