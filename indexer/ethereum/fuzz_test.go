package ethereum

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"
)

// checkBlock asserts what every decoded block guarantees.
func checkBlock(t *testing.T, b *Block) {
	t.Helper()
	lowerHex := func(what, s string, n int) {
		if len(s) != 2+2*n || s[:2] != "0x" || strings.ToLower(s) != s {
			t.Fatalf("%s %q is not %d bytes of lower-case hex", what, s, n)
		}
	}
	lowerHex("block hash", b.Hash, 32)
	lowerHex("parent hash", b.ParentHash, 32)
	lowerHex("miner", b.Miner, 20)
	if b.BaseFee != nil && (b.BaseFee.Sign() < 0 || b.BaseFee.BitLen() > 256) {
		t.Fatalf("base fee %v", b.BaseFee)
	}
	for i, tx := range b.Txs {
		lowerHex("tx hash", tx.Hash, 32)
		lowerHex("from", tx.From, 20)
		if tx.To != "" {
			lowerHex("to", tx.To, 20)
		}
		if int(tx.Index) != i || tx.Status > 1 || tx.Input == nil {
			t.Fatalf("tx %d: index %d status %d", i, tx.Index, tx.Status)
		}
		for name, v := range map[string]*big.Int{"value": tx.Value, "gas price": tx.GasPrice, "effective gas price": tx.EffectiveGasPrice} {
			if v == nil || v.Sign() < 0 || v.BitLen() > 256 {
				t.Fatalf("tx %d: %s %v", i, name, v)
			}
		}
	}
	for _, tr := range b.Transfers {
		if int(tr.TxIndex) >= len(b.Txs) || b.Txs[tr.TxIndex].Hash != tr.TxHash || b.Txs[tr.TxIndex].Status != 1 {
			t.Fatalf("transfer %+v of no successful tx", tr)
		}
		lowerHex("token", tr.Token, 20)
		lowerHex("transfer from", tr.From, 20)
		lowerHex("transfer to", tr.To, 20)
		if tr.Value.Sign() < 0 || tr.Value.BitLen() > 256 {
			t.Fatalf("transfer value %v", tr.Value)
		}
	}
	for _, l := range b.BadTransferLogs {
		if len(l.Topics) == 0 || l.Topics[0] != TransferTopic || int(l.TxIndex) >= len(b.Txs) {
			t.Fatalf("bad log %+v", l)
		}
	}
	for _, it := range b.Internal {
		if int(it.TxIndex) >= len(b.Txs) || b.Txs[it.TxIndex].Status != 1 || it.Value.Sign() <= 0 || it.Value.BitLen() > 256 || it.TraceAddress == "" {
			t.Fatalf("internal transfer %+v", it)
		}
	}
}

// fuzzSeeds are block/receipts pairs: the fixture, stripped of what the
// decoder ignores, and some of its variants. Seeds are kept small, real
// blocks left out: the fuzzer spends its time minimizing the inputs that
// find new paths, which takes minutes for ones of tens of kilobytes.
func fuzzSeeds(f *testing.F) [][2][]byte {
	block, receipts := fixture()
	strip := func(m obj, keys ...string) {
		for _, k := range keys {
			delete(m, k)
		}
	}
	strip(block, "difficulty", "totalDifficulty", "uncles", "withdrawals", "blobGasUsed", "excessBlobGas")
	for _, tx := range block["transactions"].([]any) {
		strip(tx.(obj), "v", "r", "s", "yParity", "chainId", "accessList", "maxPriorityFeePerGas", "blockNumber",
			"authorizationList", "blobVersionedHashes", "maxFeePerBlobGas")
	}
	for _, r := range receipts {
		strip(r.(obj), "logsBloom", "cumulativeGasUsed", "type", "blockNumber", "blobGasUsed", "blobGasPrice")
		for _, l := range r.(obj)["logs"].([]any) {
			strip(l.(obj), "blockHash", "blockNumber", "transactionIndex", "transactionHash", "removed")
		}
	}
	seeds := [][2][]byte{{mustJSON(f, block), mustJSON(f, receipts)}}
	empty := deepCopy(f, block)
	empty["transactions"] = []any{}
	seeds = append(seeds, [2][]byte{mustJSON(f, empty), []byte("null")})
	old := deepCopy(f, block)
	delete(old, "baseFeePerGas")
	old["transactions"] = old["transactions"].([]any)[:2]
	r0, r1 := deepCopy(f, findReceipt(receipts, hash32(0x10))), deepCopy(f, findReceipt(receipts, hash32(0x11)))
	delete(r0, "status")
	r0["root"] = hash32(0xaa)
	delete(r1, "effectiveGasPrice")
	seeds = append(seeds, [2][]byte{mustJSON(f, old), mustJSON(f, []any{r1, r0})})
	return seeds
}

func FuzzDecodeBlock(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, block, receipts []byte) {
		b, err := DecodeBlock(block, receipts)
		if err != nil {
			if b != nil {
				t.Fatal("a block and an error")
			}
			return
		}
		checkBlock(t, b)
	})
}

func FuzzDecodeTraces(f *testing.F) {
	f.Add([]byte(mustJSON(f, fixtureTraces())))
	f.Add([]byte(`[{"type":"CALL","from":"0x","calls":[{"type":"CALL"}]}]`))
	block, receipts := fixture()
	blockJSON, receiptsJSON := mustJSON(f, block), mustJSON(f, receipts)
	f.Fuzz(func(t *testing.T, traces []byte) {
		b, err := DecodeBlock(blockJSON, receiptsJSON)
		if err != nil {
			t.Fatal(err)
		}
		if err := DecodeTraces(traces, b); err != nil {
			if b.Internal != nil {
				t.Fatal("the block changed on error")
			}
			return
		}
		checkBlock(t, b)
	})
}

func FuzzParseBundle(f *testing.F) {
	// Small seeds: the shapes matter here, not the block (see fuzzSeeds).
	block := obj{"hash": hash32(1), "number": "0x1", "transactions": []any{}}
	f.Add([]byte(mustJSON(f, obj{"block": block, "receipts": []any{}, "traces": []any{obj{"result": obj{"type": "CALL"}}}})))
	f.Add([]byte(mustJSON(f, obj{"block": envelope(block), "receipts": []any{envelope(obj{"a": 1})}})))
	f.Add([]byte(mustJSON(f, envelope(block))))
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"x"}}`))
	f.Add([]byte(`{"ethereum":{"header":"e30=","transactionReceipts":["W10="],"transactionTraces":["e30="]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		bu, err := ParseBundle(data)
		if err != nil {
			return
		}
		for _, part := range []json.RawMessage{bu.Block, bu.Receipts, bu.Traces} {
			if part != nil && !json.Valid(part) {
				t.Fatalf("invalid JSON out of a bundle: %.100s", part)
			}
		}
		b, err := DecodeBlock(bu.Block, bu.Receipts)
		if err != nil {
			return
		}
		checkBlock(t, b)
		if bu.Traces != nil && DecodeTraces(bu.Traces, b) == nil {
			checkBlock(t, b)
		}
	})
}
