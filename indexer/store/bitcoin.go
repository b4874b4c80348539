package store

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/sluicepay/sluice/indexer"
	"github.com/sluicepay/sluice/indexer/bitcoin"
)

// bitcoinColumns holds one batch's rows column by column: clickhouse-go
// appends whole columns much faster than row by row.
type bitcoinColumns struct {
	// transactions
	tChain, tHash, tTxid                              []string
	tHeight                                           []uint64
	tTime                                             []time.Time
	tIndex, tSize, tVSize, tLock, tInCount, tOutCount []uint32
	tVersion                                          []int32
	tCoinbase                                         []uint8
	tOutValue                                         []uint64
	// outputs
	oChain, oHash, oTxid, oType, oAddr, oScript []string
	oHeight, oValue                             []uint64
	oTime                                       []time.Time
	oIndex, oN                                  []uint32
	// inputs
	iChain, iHash, iTxid, iPrev []string
	iHeight                     []uint64
	iTime                       []time.Time
	iIndex, iN, iPrevVout, iSeq []uint32
	iCoinbase                   []uint8
	// address_outputs
	aChain, aAddr, aHash, aTxid []string
	aHeight, aValue             []uint64
	aTime                       []time.Time
	aN                          []uint32
}

func (c *bitcoinColumns) add(chain string, b bitcoin.Indexed) {
	blk := b.B
	h := uint64(b.H)
	for ti := range blk.Txs {
		tx := &blk.Txs[ti]
		var outValue uint64
		for _, o := range tx.Vout {
			outValue += uint64(o.Value)
			addr := ""
			if o.Address != nil {
				addr = *o.Address
			}
			c.oChain = append(c.oChain, chain)
			c.oHeight = append(c.oHeight, h)
			c.oHash = append(c.oHash, blk.Hash)
			c.oTime = append(c.oTime, blk.Time)
			c.oTxid = append(c.oTxid, tx.TxID)
			c.oIndex = append(c.oIndex, uint32(ti))
			c.oN = append(c.oN, o.N)
			c.oValue = append(c.oValue, uint64(o.Value))
			c.oType = append(c.oType, o.Type)
			c.oAddr = append(c.oAddr, addr)
			c.oScript = append(c.oScript, hex.EncodeToString(o.Script))
			if addr != "" {
				c.aChain = append(c.aChain, chain)
				c.aAddr = append(c.aAddr, addr)
				c.aHeight = append(c.aHeight, h)
				c.aHash = append(c.aHash, blk.Hash)
				c.aTime = append(c.aTime, blk.Time)
				c.aTxid = append(c.aTxid, tx.TxID)
				c.aN = append(c.aN, o.N)
				c.aValue = append(c.aValue, uint64(o.Value))
			}
		}
		for n, in := range tx.Vin {
			c.iChain = append(c.iChain, chain)
			c.iHeight = append(c.iHeight, h)
			c.iHash = append(c.iHash, blk.Hash)
			c.iTime = append(c.iTime, blk.Time)
			c.iTxid = append(c.iTxid, tx.TxID)
			c.iIndex = append(c.iIndex, uint32(ti))
			c.iN = append(c.iN, uint32(n))
			c.iPrev = append(c.iPrev, in.PrevTxID)
			c.iPrevVout = append(c.iPrevVout, in.PrevVout)
			c.iSeq = append(c.iSeq, in.Sequence)
			c.iCoinbase = append(c.iCoinbase, b2u(in.Coinbase))
		}
		c.tChain = append(c.tChain, chain)
		c.tHeight = append(c.tHeight, h)
		c.tHash = append(c.tHash, blk.Hash)
		c.tTime = append(c.tTime, blk.Time)
		c.tIndex = append(c.tIndex, uint32(ti))
		c.tTxid = append(c.tTxid, tx.TxID)
		c.tSize = append(c.tSize, uint32(tx.Size))
		c.tVSize = append(c.tVSize, uint32(tx.VSize))
		c.tVersion = append(c.tVersion, tx.Version)
		c.tLock = append(c.tLock, tx.LockTime)
		c.tCoinbase = append(c.tCoinbase, b2u(tx.Coinbase))
		c.tInCount = append(c.tInCount, uint32(len(tx.Vin)))
		c.tOutCount = append(c.tOutCount, uint32(len(tx.Vout)))
		c.tOutValue = append(c.tOutValue, outValue)
	}
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// WriteBitcoin writes the rows of consecutive blocks, then their blocks and
// block_status rows, which make them visible. Each table gets one INSERT, so
// a crash leaves a table either with the whole batch or without it; rows
// above the committed tip are removed at start-up (CleanAbove).
func (w *Writer) WriteBitcoin(ctx context.Context, chain string, blocks []bitcoin.Indexed) error {
	if len(blocks) == 0 {
		return nil
	}
	var c bitcoinColumns
	for _, b := range blocks {
		c.add(chain, b)
	}
	start := time.Now()
	inserts := []tableInsert{
		{"outputs", len(c.oTxid), "chain, block_height, block_hash, block_time, txid, tx_index, n, value, script_type, address, script_hex",
			[]any{c.oChain, c.oHeight, c.oHash, c.oTime, c.oTxid, c.oIndex, c.oN, c.oValue, c.oType, c.oAddr, c.oScript}},
		{"address_outputs", len(c.aTxid), "chain, address, block_height, block_hash, block_time, txid, n, value",
			[]any{c.aChain, c.aAddr, c.aHeight, c.aHash, c.aTime, c.aTxid, c.aN, c.aValue}},
		{"inputs", len(c.iTxid), "chain, block_height, block_hash, block_time, txid, tx_index, n, prev_txid, prev_vout, sequence, is_coinbase",
			[]any{c.iChain, c.iHeight, c.iHash, c.iTime, c.iTxid, c.iIndex, c.iN, c.iPrev, c.iPrevVout, c.iSeq, c.iCoinbase}},
		{"transactions", len(c.tTxid), "chain, block_height, block_hash, block_time, tx_index, txid, size, vsize, version, locktime, is_coinbase, input_count, output_count, output_value",
			[]any{c.tChain, c.tHeight, c.tHash, c.tTime, c.tIndex, c.tTxid, c.tSize, c.tVSize, c.tVersion, c.tLock, c.tCoinbase, c.tInCount, c.tOutCount, c.tOutValue}},
	}
	refs := make([]BlockRow, len(blocks))
	for i, b := range blocks {
		refs[i] = BlockRow{Height: b.H, Hash: b.B.Hash, PrevHash: b.B.PrevHash, Time: b.B.Time,
			TxCount: len(b.B.Txs), Size: b.B.Size}
	}
	return w.writeBatch(ctx, chain, start, inserts, refs)
}

func (w *Writer) insertColumns(ctx context.Context, table, cols string, data []any) (int, error) {
	b, err := w.ch.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (%s)", table, cols))
	if err != nil {
		return 0, fmt.Errorf("insert into %s: %w", table, err)
	}
	defer b.Close()
	for i, col := range data {
		if err := b.Column(i).Append(col); err != nil {
			return 0, fmt.Errorf("insert into %s, column %d: %w", table, i, err)
		}
	}
	n := b.Rows()
	if err := b.Send(); err != nil {
		return 0, fmt.Errorf("insert into %s (%d rows): %w", table, n, err)
	}
	return n, nil
}

// ChainIndex is one chain's part of the index as the follower sees it:
// what every chain family shares (hiding orphans, crash clean-up, the
// recent window). The family sinks add Write.
type ChainIndex struct {
	W     *Writer
	Chain string
}

// Orphan hides blocks a reorg removed.
func (c ChainIndex) Orphan(ctx context.Context, refs []indexer.Ref) error {
	return c.W.Orphan(ctx, c.Chain, toRows(refs))
}

// CleanAbove removes uncommitted rows above height.
func (c ChainIndex) CleanAbove(ctx context.Context, height int64) error {
	return c.W.CleanAbove(ctx, c.Chain, height)
}

// Recent lists canonical blocks from a height.
func (c ChainIndex) Recent(ctx context.Context, from int64) ([]indexer.Ref, error) {
	return Recent(ctx, c.W.ch, c.Chain, from)
}

// BitcoinSink is the index of one Bitcoin-family chain.
type BitcoinSink struct{ ChainIndex }

// NewBitcoinSink returns the sink of chain (btc, ltc).
func NewBitcoinSink(w *Writer, chain string) BitcoinSink {
	return BitcoinSink{ChainIndex{W: w, Chain: chain}}
}

// Write stores consecutive blocks.
func (s BitcoinSink) Write(ctx context.Context, blocks []bitcoin.Indexed) error {
	return s.W.WriteBitcoin(ctx, s.Chain, blocks)
}

func toRows(refs []indexer.Ref) []BlockRow {
	rows := make([]BlockRow, len(refs))
	for i, r := range refs {
		rows[i] = BlockRow{Height: r.Height, Hash: r.Hash, PrevHash: r.PrevHash, Time: r.Time}
	}
	return rows
}
