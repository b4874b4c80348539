package store

import (
	"context"
	"encoding/hex"
	"math/big"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sluicepay/sluice/indexer/ethereum"
)

// decimalLimit is 10^38: Decimal(38, 0) holds amounts below it exactly.
var decimalLimit = new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil)

// amount splits an exact integer into the lossless decimal string, the
// Decimal(38, 0) for arithmetic, and the overflow flag (see 00003_ethereum.sql).
func amount(v *big.Int) (string, decimal.Decimal, uint8) {
	if v == nil {
		return "0", decimal.Zero, 0
	}
	if v.Sign() < 0 || v.Cmp(decimalLimit) >= 0 {
		return v.String(), decimal.Zero, 1
	}
	return v.String(), decimal.NewFromBigInt(v, 0), 0
}

func bigString(v *big.Int) string {
	if v == nil {
		return ""
	}
	return v.String()
}

// ethColumns collects one batch column by column.
type ethColumns struct {
	// eth_blocks
	bChain, bHash, bParent, bMiner, bBaseFee []string
	bHeight, bGasLimit, bGasUsed, bSize      []uint64
	bTime                                    []time.Time
	bTxs                                     []uint32
	// eth_transactions
	tChain, tBlockHash, tHash, tFrom, tTo, tValue, tGasPrice, tEff, tContract, tMethod []string
	tHeight, tNonce, tGas, tGasUsed                                                    []uint64
	tTime                                                                              []time.Time
	tIndex                                                                             []uint32
	tType, tOverflow, tStatus                                                          []uint8
	tValueDec                                                                          []decimal.Decimal
	// token_transfers
	xChain, xBlockHash, xTx, xToken, xFrom, xTo, xValue []string
	xHeight                                             []uint64
	xTime                                               []time.Time
	xTxIndex, xLog                                      []uint32
	xValueDec                                           []decimal.Decimal
	xOverflow                                           []uint8
	// internal_transfers
	iChain, iBlockHash, iTx, iTrace, iType, iFrom, iTo, iValue []string
	iHeight                                                    []uint64
	iTime                                                      []time.Time
	iTxIndex                                                   []uint32
	iValueDec                                                  []decimal.Decimal
	iOverflow                                                  []uint8
	// transfer_logs_unparsed
	uChain, uBlockHash, uTx, uAddr, uData []string
	uHeight                               []uint64
	uTime                                 []time.Time
	uTxIndex, uLog                        []uint32
	uTopics                               [][]string
	// eth_address_transfers
	aChain, aAddr, aBlockHash, aTx, aPos, aToken, aCounter, aValue []string
	aHeight                                                        []uint64
	aTime                                                          []time.Time
	aDir                                                           []int8
	aValueDec                                                      []decimal.Decimal
}

// movement adds the two address rows of a value moving from -> to.
func (c *ethColumns) movement(chain string, b *ethereum.Block, tx, pos, token, from, to string, v *big.Int) {
	s, d, _ := amount(v)
	for _, side := range []struct {
		addr, other string
		dir         int8
	}{{to, from, 1}, {from, to, -1}} {
		if side.addr == "" {
			continue
		}
		c.aChain = append(c.aChain, chain)
		c.aAddr = append(c.aAddr, side.addr)
		c.aHeight = append(c.aHeight, b.Number)
		c.aBlockHash = append(c.aBlockHash, b.Hash)
		c.aTime = append(c.aTime, b.Time)
		c.aTx = append(c.aTx, tx)
		c.aPos = append(c.aPos, pos)
		c.aToken = append(c.aToken, token)
		c.aCounter = append(c.aCounter, side.other)
		c.aDir = append(c.aDir, side.dir)
		c.aValue = append(c.aValue, s)
		c.aValueDec = append(c.aValueDec, d)
	}
}

func (c *ethColumns) add(chain string, b *ethereum.Block) {
	c.bChain = append(c.bChain, chain)
	c.bHeight = append(c.bHeight, b.Number)
	c.bHash = append(c.bHash, b.Hash)
	c.bParent = append(c.bParent, b.ParentHash)
	c.bTime = append(c.bTime, b.Time)
	c.bMiner = append(c.bMiner, b.Miner)
	c.bGasLimit = append(c.bGasLimit, b.GasLimit)
	c.bGasUsed = append(c.bGasUsed, b.GasUsed)
	c.bBaseFee = append(c.bBaseFee, bigString(b.BaseFee))
	c.bSize = append(c.bSize, b.Size)
	c.bTxs = append(c.bTxs, uint32(len(b.Txs)))

	for i := range b.Txs {
		tx := &b.Txs[i]
		s, d, o := amount(tx.Value)
		method := ""
		if len(tx.Input) >= 4 {
			method = "0x" + hex.EncodeToString(tx.Input[:4])
		}
		c.tChain = append(c.tChain, chain)
		c.tHeight = append(c.tHeight, b.Number)
		c.tBlockHash = append(c.tBlockHash, b.Hash)
		c.tTime = append(c.tTime, b.Time)
		c.tIndex = append(c.tIndex, tx.Index)
		c.tHash = append(c.tHash, tx.Hash)
		c.tType = append(c.tType, tx.Type)
		c.tFrom = append(c.tFrom, tx.From)
		c.tTo = append(c.tTo, tx.To)
		c.tValue = append(c.tValue, s)
		c.tValueDec = append(c.tValueDec, d)
		c.tOverflow = append(c.tOverflow, o)
		c.tNonce = append(c.tNonce, tx.Nonce)
		c.tGas = append(c.tGas, tx.Gas)
		c.tGasPrice = append(c.tGasPrice, bigString(tx.GasPrice))
		c.tGasUsed = append(c.tGasUsed, tx.GasUsed)
		c.tEff = append(c.tEff, bigString(tx.EffectiveGasPrice))
		c.tStatus = append(c.tStatus, tx.Status)
		c.tContract = append(c.tContract, tx.ContractAddress)
		c.tMethod = append(c.tMethod, method)
		if tx.Status == 1 && tx.Value != nil && tx.Value.Sign() > 0 {
			to := tx.To
			if to == "" {
				to = tx.ContractAddress
			}
			c.movement(chain, b, tx.Hash, "tx", "", tx.From, to, tx.Value)
		}
	}
	for _, t := range b.Transfers {
		s, d, o := amount(t.Value)
		c.xChain = append(c.xChain, chain)
		c.xHeight = append(c.xHeight, b.Number)
		c.xBlockHash = append(c.xBlockHash, b.Hash)
		c.xTime = append(c.xTime, b.Time)
		c.xTx = append(c.xTx, t.TxHash)
		c.xTxIndex = append(c.xTxIndex, t.TxIndex)
		c.xLog = append(c.xLog, t.LogIndex)
		c.xToken = append(c.xToken, t.Token)
		c.xFrom = append(c.xFrom, t.From)
		c.xTo = append(c.xTo, t.To)
		c.xValue = append(c.xValue, s)
		c.xValueDec = append(c.xValueDec, d)
		c.xOverflow = append(c.xOverflow, o)
		c.movement(chain, b, t.TxHash, "log:"+strconv.FormatUint(uint64(t.LogIndex), 10), t.Token, t.From, t.To, t.Value)
	}
	for _, it := range b.Internal {
		s, d, o := amount(it.Value)
		c.iChain = append(c.iChain, chain)
		c.iHeight = append(c.iHeight, b.Number)
		c.iBlockHash = append(c.iBlockHash, b.Hash)
		c.iTime = append(c.iTime, b.Time)
		c.iTx = append(c.iTx, it.TxHash)
		c.iTxIndex = append(c.iTxIndex, it.TxIndex)
		c.iTrace = append(c.iTrace, it.TraceAddress)
		c.iType = append(c.iType, it.CallType)
		c.iFrom = append(c.iFrom, it.From)
		c.iTo = append(c.iTo, it.To)
		c.iValue = append(c.iValue, s)
		c.iValueDec = append(c.iValueDec, d)
		c.iOverflow = append(c.iOverflow, o)
		c.movement(chain, b, it.TxHash, "trace:"+it.TraceAddress, "", it.From, it.To, it.Value)
	}
	for _, l := range b.BadTransferLogs {
		c.uChain = append(c.uChain, chain)
		c.uHeight = append(c.uHeight, b.Number)
		c.uBlockHash = append(c.uBlockHash, b.Hash)
		c.uTime = append(c.uTime, b.Time)
		c.uTx = append(c.uTx, l.TxHash)
		c.uTxIndex = append(c.uTxIndex, l.TxIndex)
		c.uLog = append(c.uLog, l.LogIndex)
		c.uAddr = append(c.uAddr, l.Address)
		c.uTopics = append(c.uTopics, l.Topics)
		c.uData = append(c.uData, l.Data)
	}
}

// WriteEthereum writes consecutive blocks; like WriteBitcoin, the blocks and
// block_status rows go last and make the batch visible.
func (w *Writer) WriteEthereum(ctx context.Context, chain string, blocks []ethereum.Indexed) error {
	if len(blocks) == 0 {
		return nil
	}
	var c ethColumns
	for _, b := range blocks {
		c.add(chain, b.B)
	}
	start := time.Now()
	inserts := []tableInsert{
		{"eth_transactions", len(c.tHash), "chain, block_height, block_hash, block_time, tx_index, hash, type, from_address, to_address, value, value_dec, value_overflow, nonce, gas, gas_price, gas_used, effective_gas_price, status, contract_address, method_id",
			[]any{c.tChain, c.tHeight, c.tBlockHash, c.tTime, c.tIndex, c.tHash, c.tType, c.tFrom, c.tTo, c.tValue, c.tValueDec, c.tOverflow, c.tNonce, c.tGas, c.tGasPrice, c.tGasUsed, c.tEff, c.tStatus, c.tContract, c.tMethod}},
		{"token_transfers", len(c.xTx), "chain, block_height, block_hash, block_time, tx_hash, tx_index, log_index, token, from_address, to_address, value, value_dec, value_overflow",
			[]any{c.xChain, c.xHeight, c.xBlockHash, c.xTime, c.xTx, c.xTxIndex, c.xLog, c.xToken, c.xFrom, c.xTo, c.xValue, c.xValueDec, c.xOverflow}},
		{"internal_transfers", len(c.iTx), "chain, block_height, block_hash, block_time, tx_hash, tx_index, trace_address, call_type, from_address, to_address, value, value_dec, value_overflow",
			[]any{c.iChain, c.iHeight, c.iBlockHash, c.iTime, c.iTx, c.iTxIndex, c.iTrace, c.iType, c.iFrom, c.iTo, c.iValue, c.iValueDec, c.iOverflow}},
		{"transfer_logs_unparsed", len(c.uTx), "chain, block_height, block_hash, block_time, tx_hash, tx_index, log_index, address, topics, data",
			[]any{c.uChain, c.uHeight, c.uBlockHash, c.uTime, c.uTx, c.uTxIndex, c.uLog, c.uAddr, c.uTopics, c.uData}},
		{"eth_address_transfers", len(c.aAddr), "chain, address, block_height, block_hash, block_time, tx_hash, position, token, counterparty, direction, value, value_dec",
			[]any{c.aChain, c.aAddr, c.aHeight, c.aBlockHash, c.aTime, c.aTx, c.aPos, c.aToken, c.aCounter, c.aDir, c.aValue, c.aValueDec}},
		{"eth_blocks", len(c.bHash), "chain, height, hash, parent_hash, time, miner, gas_limit, gas_used, base_fee, size, tx_count",
			[]any{c.bChain, c.bHeight, c.bHash, c.bParent, c.bTime, c.bMiner, c.bGasLimit, c.bGasUsed, c.bBaseFee, c.bSize, c.bTxs}},
	}
	refs := make([]BlockRow, len(blocks))
	for i, b := range blocks {
		refs[i] = BlockRow{Height: int64(b.B.Number), Hash: b.B.Hash, PrevHash: b.B.ParentHash, Time: b.B.Time,
			TxCount: len(b.B.Txs), Size: int(b.B.Size)}
	}
	return w.writeBatch(ctx, chain, start, inserts, refs)
}

// EthereumSink is the index of an Ethereum chain.
type EthereumSink struct{ ChainIndex }

// NewEthereumSink returns the sink of chain (eth).
func NewEthereumSink(w *Writer, chain string) EthereumSink {
	return EthereumSink{ChainIndex{W: w, Chain: chain}}
}

// Write stores consecutive blocks.
func (s EthereumSink) Write(ctx context.Context, blocks []ethereum.Indexed) error {
	return s.W.WriteEthereum(ctx, s.Chain, blocks)
}
