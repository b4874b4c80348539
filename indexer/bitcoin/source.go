package bitcoin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Indexed is a decoded block at the height the node gave it; it is the
// indexer.Block of the Bitcoin family.
type Indexed struct {
	H int64
	B *Block
}

func (i Indexed) Height() int64    { return i.H }
func (i Indexed) Hash() string     { return i.B.Hash }
func (i Indexed) PrevHash() string { return i.B.PrevHash }
func (i Indexed) Time() time.Time  { return i.B.Time }

// Rows is how many index rows the block makes: its blocks and block_status
// rows, and per transaction one row, one per input, one per output and one
// more per output with an address.
func (i Indexed) Rows() int {
	n := 2
	for t := range i.B.Txs {
		tx := &i.B.Txs[t]
		n += 1 + len(tx.Vin) + len(tx.Vout)
		for o := range tx.Vout {
			if tx.Vout[o].Address != nil {
				n++
			}
		}
	}
	return n
}

// Source fetches and decodes blocks from a node for the follower.
type Source struct {
	Node   *Node
	Params *Params
	// BadBlocks counts blocks the node sent that do not decode.
	BadBlocks prometheus.Counter
}

// Tip returns the node's best block.
func (s *Source) Tip(ctx context.Context) (int64, string, error) {
	ci, err := s.Node.BlockchainInfo(ctx)
	if err != nil {
		return 0, "", err
	}
	return ci.Blocks, ci.BestBlockHash, nil
}

// HashAt returns the node's main-chain hash at height.
func (s *Source) HashAt(ctx context.Context, height int64) (string, error) {
	return s.Node.BlockHash(ctx, height)
}

// Fetch downloads the raw block and decodes it, checking it is the block asked for.
func (s *Source) Fetch(ctx context.Context, height int64, hash string) (Indexed, error) {
	b, err := s.fetch(ctx, height, hash)
	if errors.Is(err, ErrGarbage) && s.BadBlocks != nil {
		s.BadBlocks.Inc()
	}
	return b, err
}

func (s *Source) fetch(ctx context.Context, height int64, hash string) (Indexed, error) {
	raw, err := s.Node.RawBlock(ctx, hash)
	if err != nil {
		return Indexed{}, err
	}
	b, err := Decode(raw, s.Params)
	if err != nil {
		return Indexed{}, fmt.Errorf("%w for block %s (height %d): it does not decode: %w", ErrGarbage, hash, height, err)
	}
	if b.Hash != hash {
		return Indexed{}, fmt.Errorf("%w: asked for block %s (height %d), got %s", ErrGarbage, hash, height, b.Hash)
	}
	return Indexed{H: height, B: b}, nil
}
