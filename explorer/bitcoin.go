package explorer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Block is a canonical block with its transaction ids in block order.
type Block struct {
	Chain         string   `json:"chain"`
	Height        uint64   `json:"height"`
	Hash          string   `json:"hash"`
	PrevHash      string   `json:"prev_hash"`
	Time          int64    `json:"time"`
	TxCount       uint32   `json:"tx_count"`
	Size          uint32   `json:"size"`
	Confirmations uint64   `json:"confirmations"`
	TxIDs         []string `json:"txids"`
}

// tip is the chain's indexed height (0 when nothing is indexed).
func (r *Reader) tip(ctx context.Context, chain string) (uint64, error) {
	var h uint64
	if err := r.CH.QueryRow(ctx, "SELECT max(height) FROM blocks WHERE chain = ?", chain).Scan(&h); err != nil {
		return 0, fmt.Errorf("chain index: %w", err)
	}
	return h, nil
}

// canonicalBlock finds the canonical block at height, or with hash.
func (r *Reader) canonicalBlock(ctx context.Context, chain string, height *uint64, hash string) (Block, error) {
	where, arg := "hash = ?", any(hash)
	if height != nil {
		where, arg = "height = ?", *height
	}
	var b Block
	var t time.Time
	err := r.CH.QueryRow(ctx, `SELECT height, hash, prev_hash, time, tx_count, size FROM blocks
		WHERE chain = ? AND `+where+` AND hash NOT IN (`+orphaned+`) AND height <= (SELECT max(height) FROM blocks WHERE chain = ?)
		LIMIT 1`, chain, arg, chain, chain).Scan(&b.Height, &b.Hash, &b.PrevHash, &t, &b.TxCount, &b.Size)
	if errors.Is(err, sql.ErrNoRows) {
		return Block{}, fmt.Errorf("%w: no canonical %s block %s", ErrNotFound, chain, refText(height, hash))
	}
	if err != nil {
		return Block{}, fmt.Errorf("chain index: %w", err)
	}
	b.Chain, b.Time = chain, t.Unix()
	tip, err := r.tip(ctx, chain)
	if err != nil {
		return Block{}, err
	}
	b.Confirmations = tip - b.Height + 1
	return b, nil
}

func refText(height *uint64, hash string) string {
	if height != nil {
		return "at height " + strconv.FormatUint(*height, 10)
	}
	return hash
}

// BitcoinBlock is a canonical BTC/LTC block by height or hash.
func (r *Reader) BitcoinBlock(ctx context.Context, chain string, height *uint64, hash string) (Block, error) {
	b, err := r.canonicalBlock(ctx, chain, height, hash)
	if err != nil {
		return Block{}, err
	}
	b.TxIDs, err = r.blockTxs(ctx, "transactions", "txid", chain, b.Height, b.Hash)
	return b, err
}

// blockTxs lists a block's transaction ids in block order from table,
// whose id column is col.
func (r *Reader) blockTxs(ctx context.Context, table, col, chain string, height uint64, hash string) ([]string, error) {
	rows, err := r.CH.Query(ctx, `SELECT `+col+` FROM `+table+` WHERE chain = ? AND block_height = ? AND block_hash = ?
		GROUP BY `+col+`, tx_index ORDER BY tx_index`, chain, height, hash)
	if err != nil {
		return nil, fmt.Errorf("chain index: %w", err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Input is a transaction input with the output it spends (its address and
// value from the index; "" and "0" for a coinbase).
type Input struct {
	N        uint32 `json:"n"`
	Coinbase bool   `json:"coinbase"`
	PrevTxID string `json:"prev_txid"`
	PrevVout uint32 `json:"prev_vout"`
	Sequence uint32 `json:"sequence"`
	Address  string `json:"address"`
	Value    string `json:"value"` // base units
}

// Output is a transaction output and the canonical input spending it, if any.
type Output struct {
	N          uint32   `json:"n"`
	Value      string   `json:"value"` // base units
	Address    string   `json:"address"`
	ScriptType string   `json:"script_type"`
	ScriptHex  string   `json:"script_hex"`
	SpentBy    *SpentBy `json:"spent_by"`
}

// SpentBy is where an output was spent.
type SpentBy struct {
	TxID        string `json:"txid"`
	N           uint32 `json:"n"`
	BlockHeight uint64 `json:"block_height"`
}

// Tx is a canonical BTC/LTC transaction.
type Tx struct {
	Chain         string   `json:"chain"`
	TxID          string   `json:"txid"`
	BlockHeight   uint64   `json:"block_height"`
	BlockHash     string   `json:"block_hash"`
	BlockTime     int64    `json:"block_time"`
	Confirmations uint64   `json:"confirmations"`
	TxIndex       uint32   `json:"tx_index"`
	Size          uint32   `json:"size"`
	VSize         uint32   `json:"vsize"`
	Version       int32    `json:"version"`
	Locktime      uint32   `json:"locktime"`
	Coinbase      bool     `json:"coinbase"`
	Fee           string   `json:"fee"` // base units: inputs − outputs; "0" for a coinbase
	Inputs        []Input  `json:"inputs"`
	Outputs       []Output `json:"outputs"`
}

// BitcoinTx reads a canonical transaction with its inputs' prevouts
// resolved and its outputs' spends.
func (r *Reader) BitcoinTx(ctx context.Context, chain, txid string) (Tx, error) {
	tx := Tx{Chain: chain, TxID: txid}
	var t time.Time
	var coinbase uint8
	err := r.CH.QueryRow(ctx, `SELECT block_height, block_hash, block_time, tx_index, size, vsize, version, locktime, is_coinbase
		FROM transactions WHERE txid = ? AND `+canonical+` LIMIT 1`, txid, chain, chain, chain).
		Scan(&tx.BlockHeight, &tx.BlockHash, &t, &tx.TxIndex, &tx.Size, &tx.VSize, &tx.Version, &tx.Locktime, &coinbase)
	if errors.Is(err, sql.ErrNoRows) {
		return Tx{}, fmt.Errorf("%w: no canonical %s transaction %s", ErrNotFound, chain, txid)
	}
	if err != nil {
		return Tx{}, fmt.Errorf("chain index: %w", err)
	}
	tx.BlockTime, tx.Coinbase = t.Unix(), coinbase == 1
	tip, err := r.tip(ctx, chain)
	if err != nil {
		return Tx{}, err
	}
	tx.Confirmations = tip - tx.BlockHeight + 1

	if tx.Inputs, err = r.inputs(ctx, chain, tx); err != nil {
		return Tx{}, err
	}
	if tx.Outputs, err = r.outputs(ctx, chain, tx); err != nil {
		return Tx{}, err
	}
	if !tx.Coinbase {
		var in, out uint64
		for _, i := range tx.Inputs {
			v, _ := strconv.ParseUint(i.Value, 10, 64)
			in += v
		}
		for _, o := range tx.Outputs {
			v, _ := strconv.ParseUint(o.Value, 10, 64)
			out += v
		}
		if in >= out {
			tx.Fee = strconv.FormatUint(in-out, 10)
		}
	} else {
		tx.Fee = "0"
	}
	return tx, nil
}

func (r *Reader) inputs(ctx context.Context, chain string, tx Tx) ([]Input, error) {
	rows, err := r.CH.Query(ctx, `SELECT n, any(prev_txid), any(prev_vout), any(sequence), any(is_coinbase) FROM inputs
		WHERE chain = ? AND block_height = ? AND block_hash = ? AND txid = ? GROUP BY n ORDER BY n`,
		chain, tx.BlockHeight, tx.BlockHash, tx.TxID)
	if err != nil {
		return nil, fmt.Errorf("chain index: %w", err)
	}
	ins := []Input{}
	for rows.Next() {
		var in Input
		var cb uint8
		if err := rows.Scan(&in.N, &in.PrevTxID, &in.PrevVout, &in.Sequence, &cb); err != nil {
			rows.Close()
			return nil, err
		}
		in.Coinbase, in.Value = cb == 1, "0"
		ins = append(ins, in)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// the prevouts in one query; ids are checked hex, so they can be inlined
	var tuples []string
	for _, in := range ins {
		if !in.Coinbase && hexHash.MatchString(in.PrevTxID) {
			tuples = append(tuples, fmt.Sprintf("('%s', %d)", in.PrevTxID, in.PrevVout))
		}
	}
	if len(tuples) == 0 {
		return ins, nil
	}
	prev := map[string][2]string{}
	rows, err = r.CH.Query(ctx, `SELECT txid, n, any(address), toString(any(value)) FROM outputs
		WHERE chain = ? AND (txid, n) IN (`+strings.Join(tuples, ", ")+`) GROUP BY txid, n`, chain)
	if err != nil {
		return nil, fmt.Errorf("chain index: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, addr, value string
		var n uint32
		if err := rows.Scan(&id, &n, &addr, &value); err != nil {
			return nil, err
		}
		prev[id+":"+strconv.FormatUint(uint64(n), 10)] = [2]string{addr, value}
	}
	for i, in := range ins {
		if p, ok := prev[in.PrevTxID+":"+strconv.FormatUint(uint64(in.PrevVout), 10)]; ok {
			ins[i].Address, ins[i].Value = p[0], p[1]
		}
	}
	return ins, rows.Err()
}

func (r *Reader) outputs(ctx context.Context, chain string, tx Tx) ([]Output, error) {
	rows, err := r.CH.Query(ctx, `SELECT n, toString(any(value)), any(address), any(script_type), any(script_hex) FROM outputs
		WHERE chain = ? AND txid = ? AND block_hash = ? GROUP BY n ORDER BY n`, chain, tx.TxID, tx.BlockHash)
	if err != nil {
		return nil, fmt.Errorf("chain index: %w", err)
	}
	outs := []Output{}
	for rows.Next() {
		var o Output
		if err := rows.Scan(&o.N, &o.Value, &o.Address, &o.ScriptType, &o.ScriptHex); err != nil {
			rows.Close()
			return nil, err
		}
		outs = append(outs, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = r.CH.Query(ctx, `SELECT prev_vout, any(txid), any(n), any(block_height) FROM inputs
		WHERE prev_txid = ? AND `+canonical+` GROUP BY prev_vout`, tx.TxID, chain, chain, chain)
	if err != nil {
		return nil, fmt.Errorf("chain index: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var vout uint32
		var s SpentBy
		if err := rows.Scan(&vout, &s.TxID, &s.N, &s.BlockHeight); err != nil {
			return nil, err
		}
		for i := range outs {
			if outs[i].N == vout {
				outs[i].SpentBy = &s
			}
		}
	}
	return outs, rows.Err()
}

// AddressTx is one transaction in an address's history: what it paid to
// the address and what it spent of the address's outputs (base units).
type AddressTx struct {
	TxID        string `json:"txid"`
	BlockHeight uint64 `json:"block_height"`
	BlockTime   int64  `json:"block_time"`
	Received    string `json:"received"`
	Sent        string `json:"sent"`
}

var btcKey = regexp.MustCompile(`^[0-9a-f]{64}$`)

// BitcoinAddressTxs lists an address's transactions newest first, a page
// at a time: its outputs (address_outputs) and the spends of them
// (address_spends), each read as one range of the address.
func (r *Reader) BitcoinAddressTxs(ctx context.Context, chain, address, cur string, limit int) ([]AddressTx, string, error) {
	c, err := parseCursor(cur, btcKey)
	if err != nil {
		return nil, "", err
	}
	cond, cargs := c.before("block_height", "txid")
	branch := append([]any{chain, address}, cargs...)
	args := append(append(append([]any{}, branch...), branch...), chain, chain, limit+1)
	// both sides of the address read as ranges, de-duplicated per output;
	// the canonical filter runs once, over what they found
	rows, err := r.CH.Query(ctx, `SELECT block_height, txid, max(t), toString(sum(recv)), toString(sum(sent)) FROM (
			SELECT block_height, block_hash, txid, n, any(block_time) AS t, any(value) AS recv, toUInt64(0) AS sent FROM address_outputs
			WHERE chain = ? AND address = ? AND `+cond+`
			GROUP BY block_height, block_hash, txid, n
			UNION ALL
			SELECT block_height, block_hash, txid, n, any(block_time) AS t, toUInt64(0) AS recv, any(value) AS sent FROM address_spends
			WHERE chain = ? AND address = ? AND `+cond+`
			GROUP BY block_height, block_hash, txid, n)
		WHERE block_hash NOT IN (`+orphaned+`) AND block_height <= (SELECT max(height) FROM blocks WHERE chain = ?)
		GROUP BY block_height, txid ORDER BY block_height DESC, txid DESC LIMIT ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("chain index: %w", err)
	}
	defer rows.Close()
	out := []AddressTx{}
	for rows.Next() {
		var a AddressTx
		var t time.Time
		if err := rows.Scan(&a.BlockHeight, &a.TxID, &t, &a.Received, &a.Sent); err != nil {
			return nil, "", err
		}
		a.BlockTime = t.Unix()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = (&cursor{last.BlockHeight, last.TxID}).String()
	}
	return out, next, nil
}

// Balance is what an address received and sent on the canonical chain
// (base units). ResolvedHeight is how far spends are known: above it an
// output may be spent without Sent showing it yet.
type Balance struct {
	Chain          string `json:"chain"`
	Address        string `json:"address"`
	Received       string `json:"received"`
	Sent           string `json:"sent"`
	Balance        string `json:"balance"`
	TxCount        uint64 `json:"tx_count"`
	IndexedHeight  uint64 `json:"indexed_height"`
	ResolvedHeight int64  `json:"resolved_height"`
}

// BitcoinBalance sums an address's outputs and the spends of them.
func (r *Reader) BitcoinBalance(ctx context.Context, chain, address string) (Balance, error) {
	b := Balance{Chain: chain, Address: address}
	var recv, sent uint64
	err := r.CH.QueryRow(ctx, `SELECT sum(recv), sum(sent), uniqExact(txid) FROM (
			SELECT block_height, block_hash, txid, any(value) AS recv, toUInt64(0) AS sent FROM address_outputs
			WHERE chain = ? AND address = ? GROUP BY block_height, block_hash, txid, n
			UNION ALL
			SELECT block_height, block_hash, txid, toUInt64(0) AS recv, any(value) AS sent FROM address_spends
			WHERE chain = ? AND address = ? GROUP BY block_height, block_hash, txid, n)
		WHERE block_hash NOT IN (`+orphaned+`) AND block_height <= (SELECT max(height) FROM blocks WHERE chain = ?)`,
		chain, address, chain, address, chain, chain).Scan(&recv, &sent, &b.TxCount)
	if err != nil {
		return Balance{}, fmt.Errorf("chain index: %w", err)
	}
	b.Received, b.Sent = strconv.FormatUint(recv, 10), strconv.FormatUint(sent, 10)
	if recv >= sent {
		b.Balance = strconv.FormatUint(recv-sent, 10)
	} else {
		b.Balance = "-" + strconv.FormatUint(sent-recv, 10) // only if the index is inconsistent
	}
	if b.IndexedHeight, err = r.tip(ctx, chain); err != nil {
		return Balance{}, err
	}
	h, _, err := resolved(ctx, r.CH, chain)
	if err != nil {
		return Balance{}, err
	}
	b.ResolvedHeight = h
	return b, nil
}
