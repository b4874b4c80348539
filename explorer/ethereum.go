package explorer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// EthBlock is a canonical Ethereum block with its transaction hashes.
type EthBlock struct {
	Chain         string   `json:"chain"`
	Height        uint64   `json:"height"`
	Hash          string   `json:"hash"`
	ParentHash    string   `json:"parent_hash"`
	Time          int64    `json:"time"`
	Miner         string   `json:"miner"`
	GasLimit      uint64   `json:"gas_limit"`
	GasUsed       uint64   `json:"gas_used"`
	BaseFee       string   `json:"base_fee"` // wei; "" before London
	Size          uint64   `json:"size"`
	TxCount       uint32   `json:"tx_count"`
	Confirmations uint64   `json:"confirmations"`
	Transactions  []string `json:"transactions"`
}

// EthereumBlock is a canonical block by height or hash.
func (r *Reader) EthereumBlock(ctx context.Context, chain string, height *uint64, hash string) (EthBlock, error) {
	ref, err := r.canonicalBlock(ctx, chain, height, hash)
	if err != nil {
		return EthBlock{}, err
	}
	b := EthBlock{Chain: chain, Confirmations: ref.Confirmations}
	var t time.Time
	err = r.CH.QueryRow(ctx, `SELECT height, hash, parent_hash, time, miner, gas_limit, gas_used, base_fee, size, tx_count
		FROM eth_blocks WHERE chain = ? AND height = ? AND hash = ? LIMIT 1`, chain, ref.Height, ref.Hash).
		Scan(&b.Height, &b.Hash, &b.ParentHash, &t, &b.Miner, &b.GasLimit, &b.GasUsed, &b.BaseFee, &b.Size, &b.TxCount)
	if err != nil {
		return EthBlock{}, fmt.Errorf("chain index: block %s: %w", ref.Hash, err)
	}
	b.Time = t.Unix()
	b.Transactions, err = r.blockTxs(ctx, "eth_transactions", "hash", chain, b.Height, b.Hash)
	return b, err
}

// Transfer is one movement of value: ETH (token "") or an ERC-20 token;
// position is tx (the transaction's own value), log:N (a Transfer event)
// or trace:… (an internal call).
type Transfer struct {
	TxHash      string `json:"tx_hash"`
	BlockHeight uint64 `json:"block_height"`
	BlockTime   int64  `json:"block_time"`
	Position    string `json:"position"`
	Token       string `json:"token"`
	From        string `json:"from"`
	To          string `json:"to"`
	Value       string `json:"value"` // base units (wei, token units)
}

// EthTx is a canonical Ethereum transaction with the transfers it made.
type EthTx struct {
	Chain             string     `json:"chain"`
	Hash              string     `json:"hash"`
	BlockHeight       uint64     `json:"block_height"`
	BlockHash         string     `json:"block_hash"`
	BlockTime         int64      `json:"block_time"`
	Confirmations     uint64     `json:"confirmations"`
	TxIndex           uint32     `json:"tx_index"`
	Type              uint8      `json:"type"`
	From              string     `json:"from"`
	To                string     `json:"to"`
	Value             string     `json:"value"`
	Nonce             uint64     `json:"nonce"`
	Gas               uint64     `json:"gas"`
	GasPrice          string     `json:"gas_price"`
	GasUsed           uint64     `json:"gas_used"`
	EffectiveGasPrice string     `json:"effective_gas_price"`
	Status            uint8      `json:"status"`
	ContractAddress   string     `json:"contract_address"`
	MethodID          string     `json:"method_id"`
	Transfers         []Transfer `json:"transfers"`
}

// EthereumTx reads a canonical transaction and its transfers.
func (r *Reader) EthereumTx(ctx context.Context, chain, hash string) (EthTx, error) {
	tx := EthTx{Chain: chain}
	var t time.Time
	err := r.CH.QueryRow(ctx, `SELECT hash, block_height, block_hash, block_time, tx_index, type, from_address, to_address, value,
			nonce, gas, gas_price, gas_used, effective_gas_price, status, contract_address, method_id
		FROM eth_transactions WHERE hash = ? AND `+canonical+` LIMIT 1`, hash, chain, chain, chain).
		Scan(&tx.Hash, &tx.BlockHeight, &tx.BlockHash, &t, &tx.TxIndex, &tx.Type, &tx.From, &tx.To, &tx.Value, &tx.Nonce, &tx.Gas,
			&tx.GasPrice, &tx.GasUsed, &tx.EffectiveGasPrice, &tx.Status, &tx.ContractAddress, &tx.MethodID)
	if errors.Is(err, sql.ErrNoRows) {
		return EthTx{}, fmt.Errorf("%w: no canonical %s transaction %s", ErrNotFound, chain, hash)
	}
	if err != nil {
		return EthTx{}, fmt.Errorf("chain index: %w", err)
	}
	tx.BlockTime = t.Unix()
	tip, err := r.tip(ctx, chain)
	if err != nil {
		return EthTx{}, err
	}
	tx.Confirmations = tip - tx.BlockHeight + 1
	// its movements, from the receiving side's rows (one per movement)
	rows, err := r.CH.Query(ctx, `SELECT tx_hash, block_height, any(block_time), position, any(token), any(counterparty), address, any(value)
		FROM eth_address_transfers WHERE chain = ? AND block_height = ? AND block_hash = ? AND tx_hash = ? AND direction = 1
		GROUP BY tx_hash, block_height, position, address ORDER BY position`, chain, tx.BlockHeight, tx.BlockHash, tx.Hash)
	if err != nil {
		return EthTx{}, fmt.Errorf("chain index: %w", err)
	}
	defer rows.Close()
	tx.Transfers = []Transfer{}
	for rows.Next() {
		var tr Transfer
		var bt time.Time
		if err := rows.Scan(&tr.TxHash, &tr.BlockHeight, &bt, &tr.Position, &tr.Token, &tr.From, &tr.To, &tr.Value); err != nil {
			return EthTx{}, err
		}
		tr.BlockTime = bt.Unix()
		tx.Transfers = append(tx.Transfers, tr)
	}
	return tx, rows.Err()
}

var ethKey = regexp.MustCompile(`^0x[0-9a-f]{64}/[a-z0-9:.\-_]{1,200}/-?1$`)

// EthereumAddressTransfers lists an address's movements newest first: all
// of them, or only ERC-20 ones (tokensOnly). The cursor key is the last
// item's tx hash, position and direction.
func (r *Reader) EthereumAddressTransfers(ctx context.Context, chain, address, cur string, limit int, tokensOnly bool) ([]Transfer, string, error) {
	c, err := parseCursor(cur, ethKey)
	if err != nil {
		return nil, "", err
	}
	cond, cargs := c.before("block_height", "concat(tx_hash, '/', position, '/', toString(direction))")
	tokens := "1"
	if tokensOnly {
		tokens = "token != ''"
	}
	args := append([]any{chain, address}, cargs...)
	args = append(args, chain, chain, chain, limit+1)
	rows, err := r.CH.Query(ctx, `SELECT tx_hash, block_height, any(block_time), position, direction, any(token), any(counterparty), any(value)
		FROM eth_address_transfers WHERE chain = ? AND address = ? AND `+tokens+` AND `+cond+` AND `+canonical+`
		GROUP BY block_height, tx_hash, position, direction
		ORDER BY block_height DESC, concat(tx_hash, '/', position, '/', toString(direction)) DESC LIMIT ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("chain index: %w", err)
	}
	defer rows.Close()
	out := []Transfer{}
	var keys []string
	for rows.Next() {
		var tr Transfer
		var bt time.Time
		var dir int8
		var other string
		if err := rows.Scan(&tr.TxHash, &tr.BlockHeight, &bt, &tr.Position, &dir, &tr.Token, &other, &tr.Value); err != nil {
			return nil, "", err
		}
		tr.BlockTime = bt.Unix()
		tr.From, tr.To = other, address
		if dir < 0 {
			tr.From, tr.To = address, other
		}
		out = append(out, tr)
		keys = append(keys, tr.TxHash+"/"+tr.Position+"/"+strconv.Itoa(int(dir)))
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = (&cursor{out[limit-1].BlockHeight, keys[limit-1]}).String()
	}
	return out, next, nil
}

var tokenKey = regexp.MustCompile(`^[0-9]{1,10}$`)

// TokenTransfers lists a token's Transfer events newest first; the cursor
// key is the last item's log index.
func (r *Reader) TokenTransfers(ctx context.Context, chain, token, cur string, limit int) ([]Transfer, string, error) {
	c, err := parseCursor(cur, tokenKey)
	if err != nil {
		return nil, "", err
	}
	var cond string
	var cargs []any
	if c != nil {
		li, _ := strconv.ParseUint(c.key, 10, 32)
		cond, cargs = "(block_height < ? OR (block_height = ? AND log_index < ?))", []any{c.height, c.height, uint32(li)}
	} else {
		cond = "1"
	}
	args := append([]any{chain, token}, cargs...)
	args = append(args, chain, chain, chain, limit+1)
	rows, err := r.CH.Query(ctx, `SELECT tx_hash, block_height, any(block_time), log_index, any(from_address), any(to_address), any(value)
		FROM token_transfers WHERE chain = ? AND token = ? AND `+cond+` AND `+canonical+`
		GROUP BY block_height, log_index, tx_hash ORDER BY block_height DESC, log_index DESC LIMIT ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("chain index: %w", err)
	}
	defer rows.Close()
	out := []Transfer{}
	var logs []uint32
	for rows.Next() {
		var tr Transfer
		var bt time.Time
		var li uint32
		if err := rows.Scan(&tr.TxHash, &tr.BlockHeight, &bt, &li, &tr.From, &tr.To, &tr.Value); err != nil {
			return nil, "", err
		}
		tr.BlockTime, tr.Token, tr.Position = bt.Unix(), token, "log:"+strconv.FormatUint(uint64(li), 10)
		out = append(out, tr)
		logs = append(logs, li)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = (&cursor{out[limit-1].BlockHeight, strconv.FormatUint(uint64(logs[limit-1]), 10)}).String()
	}
	return out, next, nil
}

// Asset is what an address received and sent of one asset (token "" is ETH).
type Asset struct {
	Token    string `json:"token"`
	Received string `json:"received"`
	Sent     string `json:"sent"`
	Net      string `json:"net"`
}

// EthBalance is an address's totals per asset on the canonical chain. ETH's
// net leaves out gas the address paid and rewards it earned: for its
// balance, ask the node (eth_getBalance).
type EthBalance struct {
	Chain         string  `json:"chain"`
	Address       string  `json:"address"`
	Assets        []Asset `json:"assets"`
	IndexedHeight uint64  `json:"indexed_height"`
}

// Amounts are summed from their exact decimal text (value), not value_dec:
// Decimal(38, 0) drops amounts of 10^38 and more (value_dec is 0 there; an
// ERC-20 amount is a uint256), a sum of it can overflow, and ClickHouse
// 18.16 puts NUL bytes into toString of a Decimal128 of 10^21 and more.
// Each amount is cut into sumChunks pieces of chunkDigits digits, from the
// right; every piece is summed as UInt64 (below 10^9 each, so 10^10 of them
// cannot overflow) and the pieces are put together exactly in Go.
const (
	chunkDigits = 9
	sumChunks   = 9 // 81 digits: a uint256 has at most 78
)

// chunkSums is the SQL for the per-piece sums of v where cond holds.
func chunkSums(cond string) string {
	var b strings.Builder
	for i := range sumChunks {
		fmt.Fprintf(&b, ", sumIf(toUInt64OrZero(reverse(substring(reverse(v), %d, %d))), %s)", i*chunkDigits+1, chunkDigits, cond)
	}
	return b.String()
}

// fromChunks puts the piece sums back together.
func fromChunks(sums []uint64) *big.Int {
	total, base, scale := new(big.Int), big.NewInt(1), new(big.Int).Exp(big.NewInt(10), big.NewInt(chunkDigits), nil)
	for _, s := range sums {
		total.Add(total, new(big.Int).Mul(new(big.Int).SetUint64(s), base))
		base.Mul(base, scale)
	}
	return total
}

// ErrNotRepresentable is an amount the index cannot sum exactly: its text is
// not a decimal integer below 10^81, which the indexer never writes (a
// uint256 has 78 digits). A corrupt row fails the read; it never turns into
// a wrong number.
var ErrNotRepresentable = errors.New("amount not representable")

// EthereumBalance sums an address's movements per asset, exactly.
func (r *Reader) EthereumBalance(ctx context.Context, chain, address string) (EthBalance, error) {
	b := EthBalance{Chain: chain, Address: address, Assets: []Asset{}}
	rows, err := r.CH.Query(ctx, `SELECT token, countIf(NOT match(v, '^[0-9]{1,`+strconv.Itoa(chunkDigits*sumChunks)+`}$'))`+
		chunkSums("direction = 1")+chunkSums("direction = -1")+`
		FROM (SELECT token, direction, any(value) AS v FROM eth_address_transfers
			WHERE chain = ? AND address = ? AND `+canonical+`
			GROUP BY block_height, tx_hash, position, direction, token)
		GROUP BY token ORDER BY token`, chain, address, chain, chain, chain)
	if err != nil {
		return EthBalance{}, fmt.Errorf("chain index: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a Asset
		var bad uint64
		sums := make([]uint64, 2*sumChunks)
		dest := []any{&a.Token, &bad}
		for i := range sums {
			dest = append(dest, &sums[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return EthBalance{}, fmt.Errorf("chain index: %w", err)
		}
		if bad > 0 {
			return EthBalance{}, fmt.Errorf("%w: %d transfers of %s token %q to or from %s have a value that is not a decimal integer below 10^%d",
				ErrNotRepresentable, bad, chain, a.Token, address, chunkDigits*sumChunks)
		}
		in, out := fromChunks(sums[:sumChunks]), fromChunks(sums[sumChunks:])
		a.Received, a.Sent, a.Net = in.String(), out.String(), new(big.Int).Sub(in, out).String()
		b.Assets = append(b.Assets, a)
	}
	if err := rows.Err(); err != nil {
		return EthBalance{}, fmt.Errorf("chain index: %w", err)
	}
	b.IndexedHeight, err = r.tip(ctx, chain)
	return b, err
}
