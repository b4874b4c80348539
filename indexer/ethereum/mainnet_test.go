package ethereum

import (
	"bytes"
	"encoding/json"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const usdt = "0xdac17f958d2ee523a2206206994597c13d831ec7"

// The chainstorage mainnet blocks of ../shared/testdata/eth (see its
// SOURCES.md). Counts marked "SOURCES" are stated there; the others were
// counted with a separate throwaway script over the same JSON and agree
// with the independent recount in the test.
type mainnetBlock struct {
	dir    string
	number uint64
	hash   string
	time   time.Time
	miner  string
	size   uint64
	// baseFee is "" before London.
	baseFee string
	txs     int
	types   map[uint8]int // SOURCES
	failed  []uint32      // tx indexes; count from SOURCES
	// ERC-20 Transfer logs in all (SOURCES for 11098450), of USDT (SOURCES),
	// in how many txs (SOURCES for 16899757), and how many of them are the
	// tx's own direct call of USDT.transfer() (SOURCES for 11098450 and
	// 15753009).
	transfers, usdt, usdtTxs, usdtDirect int
	tokens                               int // distinct token contracts
	bad                                  int // Transfer logs of ERC-721's shape
	internal                             int // ether moved inside calls (traces)
	firstUSDT                            TokenTransfer
	largest                              TokenTransfer // largest ERC-20 amount
}

func mainnetBlocks() []mainnetBlock {
	return []mainnetBlock{{
		dir: "11098450", number: 11098450, hash: "0x394c2fd2da46d076b800b24eef6ae5d52e5f0f19a6d1704c1e98229139410a2c",
		time: time.Date(2020, 10, 21, 8, 33, 5, 0, time.UTC), miner: "0xea674fdde714fd979de3edf0f56aa9716b898ec8", size: 37339,
		txs: 185, types: map[uint8]int{0: 185}, failed: []uint32{0, 107, 120, 137, 138, 179, 180},
		transfers: 131, usdt: 43, usdtTxs: 43, usdtDirect: 41, tokens: 51, bad: 2, internal: 34,
		firstUSDT: TokenTransfer{Token: usdt, From: "0xdb7c209d06798b704bbdf8f521fd98c36ba15c84", To: "0x7db77e4c967c95a5a9e2ec57ec21788dab481893",
			Value: big.NewInt(299_123355), TxHash: "0xa8d01a4d82557f7f0c980c2f7e665dfa0b095a5b15499965872158dbd597c396", LogIndex: 4},
		largest: TokenTransfer{Token: "0x82959377a5d5007b9fef80e22b0dd4aa56e2fe4b", Value: decimal("8309820197073189114560303"),
			TxHash: "0x1108ca75c2eb140053ea54fb8b627894b5c37b57d91d38736e35d35e78dd37aa", LogIndex: 126},
	},
		{
			dir: "13998626", number: 13998626, hash: "0x68985b6b06bb5c6012393145729babb983fc16c50ec5207972ddda02de02f7e2",
			time: time.Unix(1642096671, 0).UTC(), miner: "0x52bc44d5378309ee2abf1539bf71de1b7d7be3b5", size: 2927, baseFee: "185361268494",
			txs: 7, types: map[uint8]int{0: 1, 2: 6},
			transfers: 6, tokens: 4, internal: 5,
			largest: TokenTransfer{Token: "0xdb5c3c46e28b53a39c255aa39a411dd64e5fed9c", Value: decimal("1006872677941423431675"),
				TxHash: "0x9ee03d5922b2a901e3fc05d8a6351165b9f211162363c790c98746ef229e395c", LogIndex: 11},
		},
		{
			dir: "15753009", number: 15753009, hash: "0x5d6292f17665523deb770ebf5fb949ef79a903312216905b6f6a2996226c62d0",
			time: time.Unix(1665830795, 0).UTC(), miner: "0xdafea492d9c6733ae3d56b7ed1adb60692c98bc5", size: 175907, baseFee: "15354387504",
			txs: 210, types: map[uint8]int{0: 34, 2: 176}, failed: []uint32{84},
			transfers: 138, usdt: 18, usdtTxs: 18, usdtDirect: 12, tokens: 37, bad: 47, internal: 74,
			firstUSDT: TokenTransfer{Token: usdt, From: "0x5041ed759dd4afc3a72b8192c143f72f4724081a", To: "0x28386fa640aa6cc1351416d8b68041d51a6bbd55",
				Value: big.NewInt(14_030000), TxHash: "0x7d90e5b4d056b4ffb0b50f2ab2781129f6bbafc13f2781c5e0b85900ef22f614", LogIndex: 4},
			largest: TokenTransfer{Token: "0xd545ed620a47e60c36f650d5ddcf3efb58be54f4", Value: decimal("6701266840025531756766292"),
				TxHash: "0xde84a904ba25c26a8f630bf576a4fd952943296d7297bce731e35c7db368e755", LogIndex: 216},
		},
		{
			dir: "16899757", number: 16899757, hash: "0x2bdabb5e2c67747ebdc630a375bd2559ab240132d5154b526196c1de779bbb72",
			time: time.Unix(1679689943, 0).UTC(), miner: "0x690b9a9e9aa1c9db991c7721a92d351db4fac990", size: 123978, baseFee: "23205089196",
			txs: 147, types: map[uint8]int{0: 9, 1: 2, 2: 136}, failed: []uint32{10, 26, 32, 73, 121},
			transfers: 204, usdt: 18, usdtTxs: 11, usdtDirect: 8, tokens: 34, bad: 42, internal: 93,
			firstUSDT: TokenTransfer{Token: usdt, From: "0x6ea0ac097e829e44f073d69f155a2e2db3f14e5e", To: "0x11b815efb8f581194ae79006d24e0d814b7697f6",
				Value: big.NewInt(6996_947735), TxHash: "0x8f0bdedfc99be5c086a47dc431e8297fe6994837408cf9a14b6fe42730212f65", LogIndex: 1},
			largest: TokenTransfer{Token: "0xdc63269ea166b70d4780b3a11f5c825c2b761b01", Value: decimal("48650007371143164937209842488"),
				TxHash: "0x3594ad8e7a11759e6cb0a3dbec564c7749026709d6ad8a1d2300390a7d8ef4d3", LogIndex: 449},
		}}
}

func decimal(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("bad decimal " + s)
	}
	return v
}

func TestMainnetBlocks(t *testing.T) {
	root := sharedTestdata(t, "eth")
	for _, tc := range mainnetBlocks() {
		t.Run(tc.dir, func(t *testing.T) {
			dir := filepath.Join(root, tc.dir)
			blockJSON := readFile(t, filepath.Join(dir, "eth_getBlockByNumber_full.result.json"))
			receiptsJSON := readFile(t, filepath.Join(dir, "receipts.result.json"))
			b, err := DecodeBlock(blockJSON, receiptsJSON)
			if err != nil {
				t.Fatal(err)
			}

			if b.Number != tc.number || b.Hash != tc.hash || !b.Time.Equal(tc.time) || b.Time.Location() != time.UTC ||
				b.Miner != tc.miner || b.Size != tc.size {
				t.Errorf("header: number %d hash %s time %v miner %s size %d", b.Number, b.Hash, b.Time, b.Miner, b.Size)
			}
			if got := fmtBig(b.BaseFee); got != tc.baseFee {
				t.Errorf("BaseFee = %q, want %q", got, tc.baseFee)
			}
			if len(b.Txs) != tc.txs {
				t.Fatalf("%d txs, want %d", len(b.Txs), tc.txs)
			}
			types := map[uint8]int{}
			var failed []uint32
			byHash := map[string]*Tx{}
			for i := range b.Txs {
				tx := &b.Txs[i]
				types[tx.Type]++
				if tx.Status == 0 {
					failed = append(failed, tx.Index)
				}
				byHash[tx.Hash] = tx
				if tx.EffectiveGasPrice == nil || tx.EffectiveGasPrice.Sign() <= 0 || tx.GasUsed == 0 || tx.GasUsed > tx.Gas {
					t.Errorf("tx %s: effective gas price %v, gas used %d of %d", tx.Hash, tx.EffectiveGasPrice, tx.GasUsed, tx.Gas)
				}
				if b.BaseFee != nil && tx.EffectiveGasPrice.Cmp(b.BaseFee) < 0 {
					t.Errorf("tx %s paid %v, below the base fee %v", tx.Hash, tx.EffectiveGasPrice, b.BaseFee)
				}
			}
			if !mapsEqual(types, tc.types) {
				t.Errorf("tx types %v, want %v", types, tc.types)
			}
			if !slices.Equal(failed, tc.failed) {
				t.Errorf("failed txs %v, want %v", failed, tc.failed)
			}

			var nUSDT, nDirect int
			usdtTxs := map[string]bool{}
			perToken := map[string]int{}
			sums := map[string]*big.Int{}
			var largest TokenTransfer
			lastLog := int64(-1)
			for _, tr := range b.Transfers {
				if int64(tr.LogIndex) <= lastLog {
					t.Errorf("transfers out of log order at %d", tr.LogIndex)
				}
				lastLog = int64(tr.LogIndex)
				tx := byHash[tr.TxHash]
				if tx == nil || tx.Index != tr.TxIndex || tx.Status != 1 {
					t.Errorf("transfer %s/%d: tx %+v", tr.TxHash, tr.LogIndex, tx)
					continue
				}
				perToken[tr.Token]++
				if sums[tr.Token] == nil {
					sums[tr.Token] = new(big.Int)
				}
				sums[tr.Token].Add(sums[tr.Token], tr.Value)
				if largest.Value == nil || tr.Value.Cmp(largest.Value) > 0 {
					largest = tr
				}
				if tr.Token != usdt {
					continue
				}
				if nUSDT == 0 && tc.firstUSDT.Value != nil {
					if g, w := render(t, tr), render(t, withTxIndex(tc.firstUSDT, byHash)); g != w {
						t.Errorf("first USDT transfer\n got %s\nwant %s", g, w)
					}
				}
				nUSDT++
				usdtTxs[tr.TxHash] = true
				if tx.To == usdt && bytes.HasPrefix(tx.Input, []byte{0xa9, 0x05, 0x9c, 0xbb}) { // transfer(address,uint256)
					nDirect++
				}
			}
			if len(b.Transfers) != tc.transfers || nUSDT != tc.usdt || len(usdtTxs) != tc.usdtTxs || nDirect != tc.usdtDirect || len(perToken) != tc.tokens {
				t.Errorf("%d transfers, %d USDT in %d txs, %d direct transfer() calls, %d tokens; want %d, %d in %d, %d, %d",
					len(b.Transfers), nUSDT, len(usdtTxs), nDirect, len(perToken), tc.transfers, tc.usdt, tc.usdtTxs, tc.usdtDirect, tc.tokens)
			}
			if largest.Token != tc.largest.Token || largest.Value.Cmp(tc.largest.Value) != 0 || largest.TxHash != tc.largest.TxHash || largest.LogIndex != tc.largest.LogIndex {
				t.Errorf("largest transfer %+v, want %+v", largest, tc.largest)
			}
			if len(b.BadTransferLogs) != tc.bad {
				t.Errorf("%d bad transfer logs, want %d", len(b.BadTransferLogs), tc.bad)
			}
			for _, l := range b.BadTransferLogs {
				if len(l.Topics) != 4 || l.Data != "0x" { // all ERC-721 in these blocks
					t.Errorf("bad log %s/%d: %d topics, data %s", l.TxHash, l.LogIndex, len(l.Topics), l.Data)
				}
			}

			// An independent recount over the same JSON, by another path.
			wantPerToken, wantSums, wantBad := recountTransfers(t, receiptsJSON)
			if !mapsEqual(perToken, wantPerToken) || len(b.BadTransferLogs) != wantBad {
				t.Errorf("per-token counts differ from the recount:\n got %v\nwant %v", perToken, wantPerToken)
			}
			for tok, s := range wantSums {
				if sums[tok] == nil || sums[tok].Cmp(s) != 0 {
					t.Errorf("token %s: sum %v, recount %v", tok, sums[tok], s)
				}
			}

			// Traces.
			if err := DecodeTraces(readFile(t, filepath.Join(dir, "traces_calltracer.result.json")), b); err != nil {
				t.Fatal(err)
			}
			if len(b.Internal) != tc.internal {
				t.Errorf("%d internal transfers, want %d", len(b.Internal), tc.internal)
			}
			for _, it := range b.Internal {
				if tx := byHash[it.TxHash]; tx == nil || tx.Status != 1 || it.Value.Sign() <= 0 || it.TraceAddress == "" || it.CallType != "call" {
					t.Errorf("internal transfer %+v", it)
				}
			}

			// The chainstorage file holds the same block, receipts and
			// traces, base64-encoded: it must decode to the same.
			bu, err := ParseBundle(readFile(t, filepath.Join(dir, "chainstorage_raw_block_"+tc.dir+".json")))
			if err != nil {
				t.Fatal(err)
			}
			cb, err := DecodeBlock(bu.Block, bu.Receipts)
			if err != nil {
				t.Fatal(err)
			}
			if err := DecodeTraces(bu.Traces, cb); err != nil {
				t.Fatal(err)
			}
			if render(t, cb) != render(t, b) {
				t.Error("the chainstorage file decodes differently")
			}
		})
	}
}

func withTxIndex(tr TokenTransfer, byHash map[string]*Tx) TokenTransfer {
	if tx := byHash[tr.TxHash]; tx != nil {
		tr.TxIndex = tx.Index
	}
	return tr
}

func fmtBig(v *big.Int) string {
	if v == nil {
		return ""
	}
	return v.String()
}

func mapsEqual[K comparable](a, b map[K]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// recountTransfers counts ERC-20 Transfer logs per token in receipts JSON
// the plain way: decode into generic values, filter, sum.
func recountTransfers(t *testing.T, receiptsJSON []byte) (perToken map[string]int, sums map[string]*big.Int, bad int) {
	t.Helper()
	var rs []map[string]any
	if err := json.Unmarshal(receiptsJSON, &rs); err != nil {
		t.Fatal(err)
	}
	perToken, sums = map[string]int{}, map[string]*big.Int{}
	for _, r := range rs {
		if r["status"] == "0x0" {
			continue
		}
		for _, l := range r["logs"].([]any) {
			l := l.(map[string]any)
			topics := l["topics"].([]any)
			if len(topics) == 0 || topics[0] != TransferTopic {
				continue
			}
			data := l["data"].(string)
			if len(topics) != 3 || len(data) != 66 {
				bad++
				continue
			}
			tok := l["address"].(string)
			perToken[tok]++
			v, _ := new(big.Int).SetString(data[2:], 16)
			if sums[tok] == nil {
				sums[tok] = new(big.Int)
			}
			sums[tok].Add(sums[tok], v)
		}
	}
	return perToken, sums, bad
}

// TestMainnetReceiptOrder: the receipts of a real block reversed decode to
// the same block.
func TestMainnetReceiptOrder(t *testing.T) {
	dir := sharedTestdata(t, "eth", "13998626")
	blockJSON := readFile(t, filepath.Join(dir, "eth_getBlockByNumber_full.result.json"))
	var rs []json.RawMessage
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "receipts.result.json")), &rs); err != nil {
		t.Fatal(err)
	}
	a, err := DecodeBlock(blockJSON, mustJSON(t, rs))
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(rs)
	b, err := DecodeBlock(blockJSON, mustJSON(t, rs))
	if err != nil {
		t.Fatal(err)
	}
	if render(t, a) != render(t, b) {
		t.Error("receipt order changed the result")
	}
	// and with a receipt missing the block is refused
	if _, err := DecodeBlock(blockJSON, mustJSON(t, rs[1:])); err == nil {
		t.Error("a missing receipt went unnoticed")
	}
}

// TestMainnetWrongReceipts: a block given another block's receipts, or a
// receipt short, is refused with an error that says so.
func TestMainnetWrongReceipts(t *testing.T) {
	root := sharedTestdata(t, "eth")
	block := readFile(t, filepath.Join(root, "15753009", "eth_getBlockByNumber_full.result.json"))
	other := readFile(t, filepath.Join(root, "13998626", "receipts.result.json"))
	_, err := DecodeBlock(block, other)
	if err == nil || !strings.Contains(err.Error(), "receipts[0] (tx 0xf121c8c07ed51b6ac2d11fe3f0892bff2221ec9168280d12581ea8ff45e71421) is from block 0x68985b6b06bb5c6012393145729babb983fc16c50ec5207972ddda02de02f7e2, not 0x5d6292f17665523deb770ebf5fb949ef79a903312216905b6f6a2996226c62d0") {
		t.Errorf("err = %v", err)
	}
}
