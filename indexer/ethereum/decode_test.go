package ethereum

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"
)

func decodeFixture(t *testing.T, block obj, receipts []any) (*Block, error) {
	t.Helper()
	return DecodeBlock(mustJSON(t, block), mustJSON(t, receipts))
}

func TestDecodeBlockFixture(t *testing.T) {
	block, receipts := fixture()
	got, err := decodeFixture(t, block, receipts)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := render(t, got), render(t, fixtureWant()); g != w {
		t.Errorf("decoded block differs\n got: %s\nwant: %s", g, w)
	}
	if got.Internal != nil {
		t.Errorf("Internal = %v without traces, want nil", got.Internal)
	}
}

// TestDecodeBlockVariants covers the rules that depend on the era of the
// block or the shape of the answer.
func TestDecodeBlockVariants(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(block obj, receipts []any) (obj, []any)
		check  func(t *testing.T, b *Block)
	}{{
		name: "receipts in block order",
		mutate: func(block obj, receipts []any) (obj, []any) {
			ordered := make([]any, len(receipts))
			for _, r := range receipts {
				i := mustBig(t, r.(obj)["transactionIndex"].(string)).Int64()
				ordered[i] = r
			}
			return block, ordered
		},
		check: func(t *testing.T, b *Block) {
			if g, w := render(t, b), render(t, fixtureWant()); g != w {
				t.Errorf("order of receipts changed the result\n got: %s\nwant: %s", g, w)
			}
		},
	}, {
		name: "pre-London: no base fee, no effectiveGasPrice",
		mutate: func(block obj, receipts []any) (obj, []any) {
			delete(block, "baseFeePerGas")
			block["transactions"] = block["transactions"].([]any)[:1]
			r0 := findReceipt(receipts, hash32(0x10))
			delete(r0, "effectiveGasPrice")
			return block, []any{r0}
		},
		check: func(t *testing.T, b *Block) {
			if b.BaseFee != nil {
				t.Errorf("BaseFee = %v, want nil", b.BaseFee)
			}
			if tx := b.Txs[0]; tx.EffectiveGasPrice.Cmp(tx.GasPrice) != 0 || tx.GasPrice.Int64() != 20_000_000_000 {
				t.Errorf("EffectiveGasPrice = %v, GasPrice = %v; want both the tx's gasPrice 20 gwei", tx.EffectiveGasPrice, tx.GasPrice)
			}
		},
	}, {
		name: "pre-Byzantium: root instead of status means success",
		mutate: func(block obj, receipts []any) (obj, []any) {
			block["transactions"] = block["transactions"].([]any)[:2]
			var rs []any
			for _, h := range []string{hash32(0x10), hash32(0x11)} {
				r := findReceipt(receipts, h)
				r["status"] = nil // ethereum-etl's Parity answers: "status": null
				r["root"] = hash32(0xaa)
				rs = append(rs, r)
			}
			delete(rs[1].(obj), "status") // geth's: no status key
			return block, rs
		},
		check: func(t *testing.T, b *Block) {
			for _, tx := range b.Txs {
				if tx.Status != 1 {
					t.Errorf("tx %d: Status = %d, want 1", tx.Index, tx.Status)
				}
			}
			if len(b.Transfers) != 2 {
				t.Errorf("%d transfers, want 2", len(b.Transfers))
			}
		},
	}, {
		name: "pre-Berlin: no type field",
		mutate: func(block obj, receipts []any) (obj, []any) {
			tx := block["transactions"].([]any)[0].(obj)
			delete(tx, "type")
			block["transactions"] = []any{tx}
			return block, []any{findReceipt(receipts, hash32(0x10))}
		},
		check: func(t *testing.T, b *Block) {
			if b.Txs[0].Type != 0 {
				t.Errorf("Type = %d, want 0", b.Txs[0].Type)
			}
		},
	}, {
		name: "empty block, no receipts",
		mutate: func(block obj, receipts []any) (obj, []any) {
			block["transactions"] = []any{}
			return block, nil
		},
		check: func(t *testing.T, b *Block) {
			if len(b.Txs) != 0 || len(b.Transfers) != 0 || b.Hash != fxBlockHash {
				t.Errorf("got %+v", b)
			}
		},
	}, {
		name: "unknown future tx type with maxFeePerGas",
		mutate: func(block obj, receipts []any) (obj, []any) {
			block["transactions"].([]any)[5].(obj)["type"] = "0x7f"
			return block, receipts
		},
		check: func(t *testing.T, b *Block) {
			if tx := b.Txs[5]; tx.Type != 0x7f || tx.GasPrice.Int64() != 2_000_000_000 {
				t.Errorf("Type = %#x, GasPrice = %v", tx.Type, tx.GasPrice)
			}
		},
	}, {
		name: "a uint256-max transfer",
		mutate: func(block obj, receipts []any) (obj, []any) {
			l := findReceipt(receipts, hash32(0x11))["logs"].([]any)[0].(obj)
			l["data"] = "0x" + strings.Repeat("f", 64)
			return block, receipts
		},
		check: func(t *testing.T, b *Block) {
			max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
			if b.Transfers[0].Value.Cmp(max) != 0 {
				t.Errorf("Value = %v, want 2^256-1", b.Transfers[0].Value)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			block, receipts := fixture()
			block, receipts = tt.mutate(block, receipts)
			b, err := decodeFixture(t, block, receipts)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, b)
		})
	}
}

func findReceipt(receipts []any, txHash string) obj {
	for _, r := range receipts {
		if r.(obj)["transactionHash"] == txHash {
			return r.(obj)
		}
	}
	panic("no receipt for " + txHash)
}

func fxTx(block obj, i int) obj { return block["transactions"].([]any)[i].(obj) }

func fxLogOf(receipts []any, txByte byte, i int) obj {
	return findReceipt(receipts, hash32(txByte))["logs"].([]any)[i].(obj)
}

func TestDecodeBlockMalformed(t *testing.T) {
	fxJSON := func(t *testing.T) (json.RawMessage, json.RawMessage) {
		b, r := fixture()
		return mustJSON(t, b), mustJSON(t, r)
	}
	over256 := "0x1" + strings.Repeat("0", 75) // 2^300
	tests := []struct {
		name string
		// either mutate the fixture...
		mutate func(block obj, receipts []any) (obj, []any)
		// ...or give the raw input
		raw  func(t *testing.T) (block, receipts json.RawMessage)
		want []string // substrings of the error
	}{
		{name: "truncated block", raw: func(t *testing.T) (json.RawMessage, json.RawMessage) {
			b, r := fxJSON(t)
			return b[:len(b)/2], r
		}, want: []string{"block:", "unexpected end of JSON input"}},
		{name: "truncated receipts", raw: func(t *testing.T) (json.RawMessage, json.RawMessage) {
			b, r := fxJSON(t)
			return b, r[:len(r)-3]
		}, want: []string{"receipts:", "unexpected end of JSON input"}},
		{name: "null block", raw: func(t *testing.T) (json.RawMessage, json.RawMessage) {
			return json.RawMessage("null"), json.RawMessage("[]")
		}, want: []string{"block:", "null"}},
		{name: "block is an array", raw: func(t *testing.T) (json.RawMessage, json.RawMessage) {
			return json.RawMessage("[1]"), json.RawMessage("[]")
		}, want: []string{"block:", "cannot unmarshal array"}},
		{name: "receipts not an array", raw: func(t *testing.T) (json.RawMessage, json.RawMessage) {
			b, _ := fxJSON(t)
			return b, json.RawMessage(`{"a":1}`)
		}, want: []string{"receipts:", "cannot unmarshal object"}},
		{name: "missing hash", mutate: func(b obj, r []any) (obj, []any) { delete(b, "hash"); return b, r },
			want: []string{"block: hash: missing"}},
		{name: "pending block", mutate: func(b obj, r []any) (obj, []any) { b["number"] = nil; return b, r },
			want: []string{"number: missing", "pending"}},
		{name: "number not hex", mutate: func(b obj, r []any) (obj, []any) { b["number"] = "4660"; return b, r },
			want: []string{"number:", `"4660" does not start with 0x`}},
		{name: "number as JSON number", mutate: func(b obj, r []any) (obj, []any) { b["number"] = 4660; return b, r },
			want: []string{"block:", "cannot unmarshal number", "number"}},
		{name: "timestamp past int64", mutate: func(b obj, r []any) (obj, []any) { b["timestamp"] = "0xffffffffffffffff"; return b, r },
			want: []string{"timestamp:", "end of time"}},
		{name: "gasLimit over 64 bits", mutate: func(b obj, r []any) (obj, []any) { b["gasLimit"] = "0x10000000000000000"; return b, r },
			want: []string{"gasLimit:", "does not fit in 64 bits"}},
		{name: "short miner", mutate: func(b obj, r []any) (obj, []any) { b["miner"] = "0x1234"; return b, r },
			want: []string{"miner:", "not a 20-byte address"}},
		{name: "base fee over 256 bits", mutate: func(b obj, r []any) (obj, []any) { b["baseFeePerGas"] = over256; return b, r },
			want: []string{"baseFeePerGas:", "does not fit in 256 bits"}},
		{name: "no transactions key", mutate: func(b obj, r []any) (obj, []any) { delete(b, "transactions"); return b, r },
			want: []string{"transactions: missing"}},
		{name: "transaction hashes only", mutate: func(b obj, r []any) (obj, []any) {
			b["transactions"] = []any{hash32(0x10)}
			return b, r
		}, want: []string{"eth_getBlockByHash(hash, true)"}},
		{name: "null transaction", mutate: func(b obj, r []any) (obj, []any) {
			b["transactions"] = []any{nil}
			return b, r
		}, want: []string{"transactions[0]: null"}},
		{name: "value 2^300", mutate: func(b obj, r []any) (obj, []any) { fxTx(b, 1)["value"] = over256; return b, r },
			want: []string{"transactions[1] (tx " + hash32(0x11) + "): value:", "does not fit in 256 bits"}},
		{name: "value not hex", mutate: func(b obj, r []any) (obj, []any) { fxTx(b, 0)["value"] = "0xzz"; return b, r },
			want: []string{"transactions[0]", "value:", `"0xzz" is not hex`}},
		{name: "value signed", mutate: func(b obj, r []any) (obj, []any) { fxTx(b, 0)["value"] = "0x-5"; return b, r },
			want: []string{"value:", "not hex"}},
		{name: "value empty digits", mutate: func(b obj, r []any) (obj, []any) { fxTx(b, 0)["value"] = "0x"; return b, r },
			want: []string{"value:", "no digits"}},
		{name: "tx missing from", mutate: func(b obj, r []any) (obj, []any) { delete(fxTx(b, 2), "from"); return b, r },
			want: []string{"transactions[2] (tx " + hash32(0x12) + "): from: missing"}},
		{name: "tx missing gasPrice", mutate: func(b obj, r []any) (obj, []any) { delete(fxTx(b, 0), "gasPrice"); return b, r },
			want: []string{"transactions[0]", "gasPrice: missing"}},
		{name: "1559 tx missing maxFeePerGas and gasPrice", mutate: func(b obj, r []any) (obj, []any) {
			delete(fxTx(b, 1), "gasPrice")
			delete(fxTx(b, 1), "maxFeePerGas")
			return b, r
		}, want: []string{"transactions[1]", "maxFeePerGas: missing"}},
		{name: "tx input odd", mutate: func(b obj, r []any) (obj, []any) { fxTx(b, 3)["input"] = "0x608"; return b, r },
			want: []string{"transactions[3]", "input:"}},
		{name: "tx type 0x100", mutate: func(b obj, r []any) (obj, []any) { fxTx(b, 0)["type"] = "0x100"; return b, r },
			want: []string{"type:", "not a transaction type"}},
		{name: "tx index out of place", mutate: func(b obj, r []any) (obj, []any) { fxTx(b, 1)["transactionIndex"] = "0x7"; return b, r },
			want: []string{"transactions[1]", "transactionIndex is 7 but the tx is at position 1"}},
		{name: "tx of another block", mutate: func(b obj, r []any) (obj, []any) { fxTx(b, 1)["blockHash"] = hash32(0xcc); return b, r },
			want: []string{"transactions[1]", "blockHash is " + hash32(0xcc)}},
		{name: "nonce over 64 bits", mutate: func(b obj, r []any) (obj, []any) { fxTx(b, 1)["nonce"] = "0x1ffffffffffffffff"; return b, r },
			want: []string{"nonce:", "64 bits"}},
		{name: "tx twice", mutate: func(b obj, r []any) (obj, []any) {
			dup := deepCopy(t, fxTx(b, 0))
			dup["transactionIndex"] = "0x6"
			b["transactions"] = append(b["transactions"].([]any), dup)
			return b, r
		}, want: []string{"tx " + hash32(0x10) + " is in the block twice, at 0 and 6"}},
		{name: "tx without receipt", mutate: func(b obj, r []any) (obj, []any) { return b, r[1:] }, // r[0] is tx 3's
			want: []string{"tx " + hash32(0x13) + " (index 3) has no receipt"}},
		{name: "receipt of a tx not in the block", mutate: func(b obj, r []any) (obj, []any) {
			extra := deepCopy(t, findReceipt(r, hash32(0x10)))
			extra["transactionHash"] = hash32(0x99)
			return b, append(r, extra)
		}, want: []string{"receipts[6] is for tx " + hash32(0x99) + ", which is not in block " + fxBlockHash}},
		{name: "two receipts for a tx", mutate: func(b obj, r []any) (obj, []any) {
			return b, append(r, deepCopy(t, findReceipt(r, hash32(0x10))))
		}, want: []string{"receipts[1] and receipts[6] are both for tx " + hash32(0x10)}},
		{name: "null receipt", mutate: func(b obj, r []any) (obj, []any) { r[2] = nil; return b, r },
			want: []string{"receipts[2]: null"}},
		{name: "receipt without transactionHash", mutate: func(b obj, r []any) (obj, []any) {
			delete(r[4].(obj), "transactionHash")
			return b, r
		}, want: []string{"receipts[4]: transactionHash: missing"}},
		{name: "receipt for another block", mutate: func(b obj, r []any) (obj, []any) {
			findReceipt(r, hash32(0x14))["blockHash"] = hash32(0xcc)
			return b, r
		}, want: []string{"receipts[4] (tx " + hash32(0x14) + ") is from block " + hash32(0xcc) + ", not " + fxBlockHash}},
		{name: "receipt without blockHash", mutate: func(b obj, r []any) (obj, []any) {
			delete(findReceipt(r, hash32(0x14)), "blockHash")
			return b, r
		}, want: []string{"receipts[4] (tx " + hash32(0x14) + "): blockHash: missing"}},
		{name: "receipt of another height", mutate: func(b obj, r []any) (obj, []any) {
			findReceipt(r, hash32(0x14))["blockNumber"] = "0x1235"
			return b, r
		}, want: []string{"blockNumber is 4661, not the block's 4660"}},
		{name: "receipt index differs", mutate: func(b obj, r []any) (obj, []any) {
			findReceipt(r, hash32(0x14))["transactionIndex"] = "0x0"
			return b, r
		}, want: []string{"receipts[4]", "transactionIndex is 0 but the tx is at 4"}},
		{name: "no status, no root", mutate: func(b obj, r []any) (obj, []any) {
			delete(findReceipt(r, hash32(0x15)), "status")
			return b, r
		}, want: []string{"receipts[2] (tx " + hash32(0x15) + ", index 5): status: missing"}},
		{name: "status 0x2", mutate: func(b obj, r []any) (obj, []any) {
			findReceipt(r, hash32(0x15))["status"] = "0x2"
			return b, r
		}, want: []string{"status:", "neither 0x0 nor 0x1"}},
		{name: "bad root", mutate: func(b obj, r []any) (obj, []any) {
			rc := findReceipt(r, hash32(0x15))
			delete(rc, "status")
			rc["root"] = "0x12"
			return b, r
		}, want: []string{"root:", "32-byte hash"}},
		{name: "receipt missing gasUsed", mutate: func(b obj, r []any) (obj, []any) {
			delete(findReceipt(r, hash32(0x11)), "gasUsed")
			return b, r
		}, want: []string{"receipts[3] (tx " + hash32(0x11) + ", index 1): gasUsed: missing"}},
		{name: "1559 receipt missing effectiveGasPrice", mutate: func(b obj, r []any) (obj, []any) {
			delete(findReceipt(r, hash32(0x11)), "effectiveGasPrice")
			return b, r
		}, want: []string{"effectiveGasPrice: missing"}},
		{name: "receipt missing logs", mutate: func(b obj, r []any) (obj, []any) {
			delete(findReceipt(r, hash32(0x11)), "logs")
			return b, r
		}, want: []string{"logs: missing"}},
		{name: "bad contract address", mutate: func(b obj, r []any) (obj, []any) {
			findReceipt(r, hash32(0x13))["contractAddress"] = "0xabc"
			return b, r
		}, want: []string{"contractAddress:"}},
		{name: "null log", mutate: func(b obj, r []any) (obj, []any) {
			findReceipt(r, hash32(0x11))["logs"].([]any)[2] = nil
			return b, r
		}, want: []string{"logs[2]: null"}},
		{name: "log without logIndex", mutate: func(b obj, r []any) (obj, []any) {
			delete(fxLogOf(r, 0x11, 1), "logIndex")
			return b, r
		}, want: []string{"receipts[3] (tx " + hash32(0x11) + ", index 1): logs[1] (logIndex ?): logIndex: missing"}},
		{name: "log index repeated", mutate: func(b obj, r []any) (obj, []any) {
			fxLogOf(r, 0x11, 1)["logIndex"] = "0x0"
			return b, r
		}, want: []string{"logs[1] (logIndex 0x0)", "does not follow 0"}},
		{name: "log index beyond uint32", mutate: func(b obj, r []any) (obj, []any) {
			fxLogOf(r, 0x13, 0)["logIndex"] = "0x100000000"
			return b, r
		}, want: []string{"logIndex:", "beyond any block"}},
		{name: "short topic", mutate: func(b obj, r []any) (obj, []any) {
			fxLogOf(r, 0x11, 0)["topics"].([]any)[1] = "0x1234"
			return b, r
		}, want: []string{"logs[0] (logIndex 0x0): topics[1]:", "32-byte hash"}},
		{name: "five topics", mutate: func(b obj, r []any) (obj, []any) {
			l := fxLogOf(r, 0x11, 1)
			l["topics"] = append(l["topics"].([]any), hash32(1))
			return b, r
		}, want: []string{"topics: 5 of them"}},
		{name: "odd data", mutate: func(b obj, r []any) (obj, []any) {
			fxLogOf(r, 0x11, 0)["data"] = "0x123"
			return b, r
		}, want: []string{"data:", "odd number"}},
		{name: "log without data", mutate: func(b obj, r []any) (obj, []any) {
			delete(fxLogOf(r, 0x11, 0), "data")
			return b, r
		}, want: []string{"data: missing"}},
		{name: "log address missing", mutate: func(b obj, r []any) (obj, []any) {
			delete(fxLogOf(r, 0x11, 0), "address")
			return b, r
		}, want: []string{"address: missing"}},
		{name: "removed log", mutate: func(b obj, r []any) (obj, []any) {
			fxLogOf(r, 0x11, 0)["removed"] = true
			return b, r
		}, want: []string{"marked removed"}},
		{name: "log of another tx", mutate: func(b obj, r []any) (obj, []any) {
			fxLogOf(r, 0x11, 0)["transactionHash"] = hash32(0x12)
			return b, r
		}, want: []string{"logs[0]", "transactionHash is " + hash32(0x12)}},
		{name: "log of another block", mutate: func(b obj, r []any) (obj, []any) {
			fxLogOf(r, 0x11, 0)["blockHash"] = hash32(0xcc)
			return b, r
		}, want: []string{"logs[0]", "blockHash is " + hash32(0xcc)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var block, receipts json.RawMessage
			if tt.raw != nil {
				block, receipts = tt.raw(t)
			} else {
				b, r := fixture()
				b, r = tt.mutate(b, r)
				block, receipts = mustJSON(t, b), mustJSON(t, r)
			}
			got, err := DecodeBlock(block, receipts)
			if err == nil {
				t.Fatalf("no error; decoded %d txs", len(got.Txs))
			}
			if got != nil {
				t.Errorf("a block came back with the error %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestErc20Transfer(t *testing.T) {
	from, to := topicOf(addr20(0x01)), topicOf(addr20(0x02))
	one := word(big.NewInt(1))
	tests := []struct {
		name   string
		topics []string
		data   string
		ok     bool
	}{
		{"erc20", []string{TransferTopic, from, to}, one, true},
		{"erc721: four topics", []string{TransferTopic, from, to, one}, "0x", false},
		{"one topic, all in data", []string{TransferTopic}, "0x" + from[2:] + to[2:] + one[2:], false},
		{"two topics", []string{TransferTopic, from}, one, false},
		{"empty data", []string{TransferTopic, from, to}, "0x", false},
		{"two data words", []string{TransferTopic, from, to}, one + one[2:], false},
		{"short data word", []string{TransferTopic, from, to}, one[:len(one)-2], false},
		{"from with high bytes", []string{TransferTopic, "0x01" + from[4:], to}, one, false},
		{"to with high bytes", []string{TransferTopic, from, "0x" + strings.Repeat("0", 23) + "1" + to[26:]}, one, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, to2, v, ok := erc20Transfer(tt.topics, tt.data)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if ok && (f != addr20(0x01) || to2 != addr20(0x02) || v.Int64() != 1) {
				t.Errorf("got %s -> %s %v", f, to2, v)
			}
		})
	}
}
