package ethereum

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"
)

// The rpc* structs are the shapes of geth's JSON-RPC answers, reduced to the
// fields the index keeps. They are our own rather than go-ethereum's
// core/types because those reject transaction types they do not know and
// insist on fields (signatures, chain ids) the index does not need: a block
// must decode whatever its transactions' types are. Hex stays a string here
// and is parsed afterwards, so that an error can name the transaction, the
// log and the field.

type rpcBlock struct {
	Number        string    `json:"number"`
	Hash          string    `json:"hash"`
	ParentHash    string    `json:"parentHash"`
	Timestamp     string    `json:"timestamp"`
	Miner         string    `json:"miner"`
	GasLimit      string    `json:"gasLimit"`
	GasUsed       string    `json:"gasUsed"`
	BaseFeePerGas string    `json:"baseFeePerGas"`
	Size          string    `json:"size"`
	Transactions  *[]*rpcTx `json:"transactions"`
}

type rpcTx struct {
	Hash             string `json:"hash"`
	BlockHash        string `json:"blockHash"`
	TransactionIndex string `json:"transactionIndex"`
	Type             string `json:"type"`
	From             string `json:"from"`
	To               string `json:"to"`
	Value            string `json:"value"`
	Nonce            string `json:"nonce"`
	Gas              string `json:"gas"`
	GasPrice         string `json:"gasPrice"`
	MaxFeePerGas     string `json:"maxFeePerGas"`
	Input            string `json:"input"`
}

type rpcReceipt struct {
	TransactionHash   string     `json:"transactionHash"`
	TransactionIndex  string     `json:"transactionIndex"`
	BlockHash         string     `json:"blockHash"`
	BlockNumber       string     `json:"blockNumber"`
	GasUsed           string     `json:"gasUsed"`
	EffectiveGasPrice string     `json:"effectiveGasPrice"`
	Status            string     `json:"status"`
	Root              string     `json:"root"`
	ContractAddress   string     `json:"contractAddress"`
	Logs              *[]*rpcLog `json:"logs"`
}

type rpcLog struct {
	Address         string   `json:"address"`
	Topics          []string `json:"topics"`
	Data            string   `json:"data"`
	LogIndex        string   `json:"logIndex"`
	TransactionHash string   `json:"transactionHash"`
	BlockHash       string   `json:"blockHash"`
	Removed         bool     `json:"removed"`
}

// DecodeBlock decodes an eth_getBlockByHash(hash, true) answer (full
// transactions) and the receipts of its transactions: a JSON array of
// eth_getTransactionReceipt answers in any order, or the answer of
// eth_getBlockReceipts. Every transaction must have exactly one receipt of
// this block, and every receipt a transaction.
//
// Receipts from before Byzantium (block 4,370,000 on mainnet) carry a state
// root instead of a status. Such a transaction is recorded as successful, as
// ethereum-etl and block explorers do: a failed one of that era leaves no
// mark in its receipt (it used all its gas and logged nothing), so nothing
// better can be said without re-executing it.
//
// The ERC-20 Transfer logs of successful transactions become
// Block.Transfers; logs with the Transfer topic but another shape become
// Block.BadTransferLogs. Internal transfers need traces: see DecodeTraces.
func DecodeBlock(block json.RawMessage, receipts json.RawMessage) (*Block, error) {
	if isNull(block) {
		return nil, errors.New("block: the answer is null (the node does not have this block)")
	}
	var rb rpcBlock
	if err := json.Unmarshal(block, &rb); err != nil {
		return nil, fmt.Errorf("block: %w", hintHashesOnly(err))
	}
	b, err := decodeHeader(&rb)
	if err != nil {
		return nil, fmt.Errorf("block: %w", err)
	}
	if rb.Transactions == nil {
		return nil, fmt.Errorf("block %s: transactions: %w", b.Hash, errMissing)
	}
	byHash, err := decodeReceipts(receipts, b.Hash)
	if err != nil {
		return nil, err
	}

	b.Txs = make([]Tx, len(*rb.Transactions))
	lastLog := int64(-1) // log indexes are block-wide and increase in tx order
	for i, rt := range *rb.Transactions {
		if rt == nil {
			return nil, fmt.Errorf("transactions[%d]: null", i)
		}
		tx := &b.Txs[i]
		if err := decodeTx(rt, i, b.Hash, tx); err != nil {
			return nil, fmt.Errorf("transactions[%d] (tx %s): %w", i, orUnknown(rt.Hash), err)
		}
		r, ok := byHash[tx.Hash]
		if !ok {
			for j := range i {
				if b.Txs[j].Hash == tx.Hash {
					return nil, fmt.Errorf("tx %s is in the block twice, at %d and %d", tx.Hash, j, i)
				}
			}
			return nil, fmt.Errorf("tx %s (index %d) has no receipt", tx.Hash, i)
		}
		delete(byHash, tx.Hash)
		if err := applyReceipt(r.rpcReceipt, b, tx, &lastLog); err != nil {
			return nil, fmt.Errorf("receipts[%d] (tx %s, index %d): %w", r.pos, tx.Hash, i, err)
		}
	}
	if len(byHash) > 0 {
		extra := indexedReceipt{pos: math.MaxInt}
		for h, r := range byHash { // report the first in the input, whichever map order
			if r.pos < extra.pos {
				extra, extra.hash = r, h
			}
		}
		return nil, fmt.Errorf("receipts[%d] is for tx %s, which is not in block %s", extra.pos, extra.hash, b.Hash)
	}
	return b, nil
}

func decodeHeader(rb *rpcBlock) (*Block, error) {
	b := &Block{}
	var err error
	if b.Hash, err = parseHash(rb.Hash); err != nil {
		return nil, fmt.Errorf("hash: %w", err)
	}
	if b.Number, err = parseUint64(rb.Number); err != nil {
		if errors.Is(err, errMissing) {
			err = fmt.Errorf("%w (a pending block has none; ask for a mined one by hash)", err)
		}
		return nil, fmt.Errorf("%s: number: %w", b.Hash, err)
	}
	fail := func(field string, err error) (*Block, error) {
		return nil, fmt.Errorf("%s (number %d): %s: %w", b.Hash, b.Number, field, err)
	}
	if b.ParentHash, err = parseHash(rb.ParentHash); err != nil {
		return fail("parentHash", err)
	}
	ts, err := parseUint64(rb.Timestamp)
	if err != nil {
		return fail("timestamp", err)
	}
	if ts > math.MaxInt64 {
		return fail("timestamp", fmt.Errorf("%s is past the end of time", quote(rb.Timestamp)))
	}
	b.Time = time.Unix(int64(ts), 0).UTC()
	if b.Miner, err = parseAddress(rb.Miner); err != nil {
		return fail("miner", err)
	}
	if b.GasLimit, err = parseUint64(rb.GasLimit); err != nil {
		return fail("gasLimit", err)
	}
	if b.GasUsed, err = parseUint64(rb.GasUsed); err != nil {
		return fail("gasUsed", err)
	}
	if rb.BaseFeePerGas != "" { // absent before London
		if b.BaseFee, err = parseBig(rb.BaseFeePerGas); err != nil {
			return fail("baseFeePerGas", err)
		}
	}
	if b.Size, err = parseUint64(rb.Size); err != nil {
		return fail("size", err)
	}
	return b, nil
}

func decodeTx(rt *rpcTx, pos int, blockHash string, tx *Tx) error {
	var err error
	if tx.Hash, err = parseHash(rt.Hash); err != nil {
		return fmt.Errorf("hash: %w", err)
	}
	if rt.BlockHash != "" { // a block's transactions name it; an error if another
		h, err := parseHash(rt.BlockHash)
		if err != nil {
			return fmt.Errorf("blockHash: %w", err)
		}
		if h != blockHash {
			return fmt.Errorf("blockHash is %s, not the block's %s", h, blockHash)
		}
	}
	idx, err := parseUint64(rt.TransactionIndex)
	if err != nil {
		return fmt.Errorf("transactionIndex: %w", err)
	}
	if idx != uint64(pos) {
		return fmt.Errorf("transactionIndex is %d but the tx is at position %d", idx, pos)
	}
	tx.Index = uint32(pos)
	if rt.Type != "" { // absent before Berlin: all were legacy then
		t, err := parseUint64(rt.Type)
		if err != nil {
			return fmt.Errorf("type: %w", err)
		}
		if t > math.MaxUint8 {
			return fmt.Errorf("type: %s is not a transaction type (0x00-0xff)", quote(rt.Type))
		}
		tx.Type = uint8(t)
	}
	if tx.From, err = parseAddress(rt.From); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if tx.To, err = parseOptAddress(rt.To); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	if tx.Value, err = parseBig(rt.Value); err != nil {
		return fmt.Errorf("value: %w", err)
	}
	if tx.Nonce, err = parseUint64(rt.Nonce); err != nil {
		return fmt.Errorf("nonce: %w", err)
	}
	if tx.Gas, err = parseUint64(rt.Gas); err != nil {
		return fmt.Errorf("gas: %w", err)
	}
	// Legacy (0) and access-list (1) txs bid a gasPrice; later types a
	// maxFeePerGas (in a mined block geth adds the price paid as
	// "gasPrice", which the receipt's effectiveGasPrice already gives).
	// Unknown types get whichever they carry.
	priceField, price := "gasPrice", rt.GasPrice
	if tx.Type >= 2 && rt.MaxFeePerGas != "" {
		priceField, price = "maxFeePerGas", rt.MaxFeePerGas
	} else if tx.Type >= 2 && price == "" {
		priceField = "maxFeePerGas"
	}
	if tx.GasPrice, err = parseBig(price); err != nil {
		return fmt.Errorf("%s: %w", priceField, err)
	}
	if tx.Input, err = parseData(rt.Input); err != nil {
		return fmt.Errorf("input: %w", err)
	}
	return nil
}

// indexedReceipt is a receipt with its position in the input, for errors.
type indexedReceipt struct {
	*rpcReceipt
	pos  int
	hash string
}

// decodeReceipts indexes the receipts by transaction hash, checking first
// that they are of the block: receipts of another block would otherwise be
// reported as missing ones.
func decodeReceipts(receipts json.RawMessage, blockHash string) (map[string]indexedReceipt, error) {
	var list []*rpcReceipt
	if !isNull(receipts) { // none given: fine for a block without transactions
		if err := json.Unmarshal(receipts, &list); err != nil {
			return nil, fmt.Errorf("receipts: %w", err)
		}
	}
	byHash := make(map[string]indexedReceipt, len(list))
	for i, r := range list {
		if r == nil {
			return nil, fmt.Errorf("receipts[%d]: null (the node does not know the transaction)", i)
		}
		h, err := parseHash(r.TransactionHash)
		if err != nil {
			return nil, fmt.Errorf("receipts[%d]: transactionHash: %w", i, err)
		}
		bh, err := parseHash(r.BlockHash)
		if err != nil {
			return nil, fmt.Errorf("receipts[%d] (tx %s): blockHash: %w", i, h, err)
		}
		if bh != blockHash {
			return nil, fmt.Errorf("receipts[%d] (tx %s) is from block %s, not %s (a reorg between the calls?)", i, h, bh, blockHash)
		}
		if prev, dup := byHash[h]; dup {
			return nil, fmt.Errorf("receipts[%d] and receipts[%d] are both for tx %s", prev.pos, i, h)
		}
		byHash[h] = indexedReceipt{rpcReceipt: r, pos: i}
	}
	return byHash, nil
}

// applyReceipt fills the fields of tx's receipt r (whose block hash
// decodeReceipts checked) into tx and appends the tx's Transfer logs to b.
// lastLog is the log index seen last in the block.
func applyReceipt(r *rpcReceipt, b *Block, tx *Tx, lastLog *int64) error {
	if r.BlockNumber != "" {
		n, err := parseUint64(r.BlockNumber)
		if err != nil {
			return fmt.Errorf("blockNumber: %w", err)
		}
		if n != b.Number {
			return fmt.Errorf("blockNumber is %d, not the block's %d", n, b.Number)
		}
	}
	if r.TransactionIndex != "" {
		idx, err := parseUint64(r.TransactionIndex)
		if err != nil {
			return fmt.Errorf("transactionIndex: %w", err)
		}
		if idx != uint64(tx.Index) {
			return fmt.Errorf("transactionIndex is %d but the tx is at %d", idx, tx.Index)
		}
	}
	var err error
	if tx.GasUsed, err = parseUint64(r.GasUsed); err != nil {
		return fmt.Errorf("gasUsed: %w", err)
	}
	switch {
	case r.EffectiveGasPrice != "":
		if tx.EffectiveGasPrice, err = parseBig(r.EffectiveGasPrice); err != nil {
			return fmt.Errorf("effectiveGasPrice: %w", err)
		}
	case tx.Type < 2:
		// Receipts before London lack the field: the price bid was the
		// price paid.
		tx.EffectiveGasPrice = new(big.Int).Set(tx.GasPrice)
	default:
		return fmt.Errorf("effectiveGasPrice: %w (a type-%d tx pays less than it bids)", errMissing, tx.Type)
	}
	switch {
	case r.Status != "":
		s, err := parseUint64(r.Status)
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		if s > 1 {
			return fmt.Errorf("status: %s is neither 0x0 nor 0x1", quote(r.Status))
		}
		tx.Status = uint8(s)
	case r.Root != "":
		if _, err := parseHash(r.Root); err != nil {
			return fmt.Errorf("root: %w", err)
		}
		tx.Status = 1 // pre-Byzantium: see DecodeBlock
	default:
		return errors.New("status: missing, and no pre-Byzantium root either")
	}
	if tx.ContractAddress, err = parseOptAddress(r.ContractAddress); err != nil {
		return fmt.Errorf("contractAddress: %w", err)
	}
	if r.Logs == nil {
		return fmt.Errorf("logs: %w", errMissing)
	}
	for j, l := range *r.Logs {
		if l == nil {
			return fmt.Errorf("logs[%d]: null", j)
		}
		if err := applyLog(l, b, tx, lastLog); err != nil {
			return fmt.Errorf("logs[%d] (logIndex %s): %w", j, orUnknown(l.LogIndex), err)
		}
	}
	return nil
}

// applyLog checks one log and, for a successful tx, keeps it if it is a
// Transfer. Logs of failed txs are checked but never kept: a reverted tx
// emits none, so any there are a node's error, and no token moved.
func applyLog(l *rpcLog, b *Block, tx *Tx, lastLog *int64) error {
	if l.Removed {
		return errors.New("marked removed (a receipt by hash never holds removed logs)")
	}
	idx, err := parseUint64(l.LogIndex)
	if err != nil {
		return fmt.Errorf("logIndex: %w", err)
	}
	if idx > math.MaxUint32 {
		return fmt.Errorf("logIndex: %d is beyond any block", idx)
	}
	if int64(idx) <= *lastLog {
		return fmt.Errorf("logIndex %d does not follow %d (log indexes are block-wide and increasing)", idx, *lastLog)
	}
	*lastLog = int64(idx)
	if l.TransactionHash != "" {
		h, err := parseHash(l.TransactionHash)
		if err != nil {
			return fmt.Errorf("transactionHash: %w", err)
		}
		if h != tx.Hash {
			return fmt.Errorf("transactionHash is %s, not the receipt's", h)
		}
	}
	if l.BlockHash != "" {
		h, err := parseHash(l.BlockHash)
		if err != nil {
			return fmt.Errorf("blockHash: %w", err)
		}
		if h != b.Hash {
			return fmt.Errorf("blockHash is %s, not the block's", h)
		}
	}
	addr, err := parseAddress(l.Address)
	if err != nil {
		return fmt.Errorf("address: %w", err)
	}
	if len(l.Topics) > 4 {
		return fmt.Errorf("topics: %d of them, but the EVM logs at most 4", len(l.Topics))
	}
	for k, t := range l.Topics {
		if l.Topics[k], err = parseHash(t); err != nil {
			return fmt.Errorf("topics[%d]: %w", k, err)
		}
	}
	data, err := checkData(l.Data)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if tx.Status != 1 || len(l.Topics) == 0 || l.Topics[0] != TransferTopic {
		return nil
	}
	from, to, value, ok := erc20Transfer(l.Topics, data)
	if !ok {
		b.BadTransferLogs = append(b.BadTransferLogs, RawLog{
			TxHash: tx.Hash, TxIndex: tx.Index, LogIndex: uint32(idx),
			Address: addr, Topics: l.Topics, Data: data,
		})
		return nil
	}
	b.Transfers = append(b.Transfers, TokenTransfer{
		Token: addr, From: from, To: to, Value: value,
		TxHash: tx.Hash, TxIndex: tx.Index, LogIndex: uint32(idx),
	})
	return nil
}

// isNull reports whether raw is empty or the JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// hintHashesOnly explains the decode error of a block fetched without its
// transactions' bodies.
func hintHashesOnly(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Value == "string" && te.Field == "transactions" {
		return fmt.Errorf("%w (transactions are hashes only: fetch the block with eth_getBlockByHash(hash, true))", err)
	}
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}
