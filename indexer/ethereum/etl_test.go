package ethereum

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Cross-checks against blockchain-etl/ethereum-etl: its expected outputs
// for the mainnet blocks whose RPC answers its tests saved (copied to
// ../shared/testdata, see SOURCES.md), compared field by field.

const etlResources = "etl-expected/ethereum-etl/tests/resources"

// row is one expected record, every value as text ("" for null).
type row map[string]string

func readCSV(t *testing.T, path string) []row {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(readFile(t, path))).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var rows []row
	for _, rec := range recs[1:] {
		r := row{}
		for i, k := range recs[0] {
			r[k] = rec[i]
		}
		rows = append(rows, r)
	}
	return rows
}

// readJSONLines reads ethereum-etl's JSON-lines output, keeping numbers
// exact.
func readJSONLines(t *testing.T, path string) []row {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(readFile(t, path)))
	dec.UseNumber()
	var rows []row
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r := row{}
		for k, v := range m {
			switch v := v.(type) {
			case nil:
				r[k] = ""
			case string:
				r[k] = v
			case json.Number:
				r[k] = v.String()
			default:
				r[k] = string(mustJSON(t, v))
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// compareRow checks each of got's fields that want has (ethereum-etl's
// outputs differ in which they carry), and that there was at least one.
func compareRow(t *testing.T, what string, want row, got row) {
	t.Helper()
	n := 0
	for k, g := range got {
		w, ok := want[k]
		if !ok {
			continue
		}
		n++
		if g != w {
			t.Errorf("%s: %s = %q, ethereum-etl has %q", what, k, g, w)
		}
	}
	if n == 0 {
		t.Errorf("%s: no field in common with ethereum-etl's record", what)
	}
}

func blockRow(b *Block) row {
	return row{
		"number": u64(b.Number), "hash": b.Hash, "parent_hash": b.ParentHash, "miner": b.Miner,
		"gas_limit": u64(b.GasLimit), "gas_used": u64(b.GasUsed), "timestamp": strconv.FormatInt(b.Time.Unix(), 10),
		"size": u64(b.Size), "base_fee_per_gas": fmtBig(b.BaseFee), "transaction_count": strconv.Itoa(len(b.Txs)),
	}
}

// txRow is a tx as ethereum-etl prints it. Its gas_price is the node's
// gasPrice field, which for a 1559 tx is the price paid; Tx.GasPrice is
// the maxFeePerGas bid then, compared with max_fee_per_gas instead.
func txRow(b *Block, tx Tx) row {
	r := row{
		"hash": tx.Hash, "nonce": u64(tx.Nonce), "transaction_index": u64(uint64(tx.Index)),
		"from_address": tx.From, "to_address": tx.To, "value": tx.Value.String(), "gas": u64(tx.Gas),
		"input": "0x" + hex.EncodeToString(tx.Input), "block_number": u64(b.Number), "block_hash": b.Hash,
		"block_timestamp": strconv.FormatInt(b.Time.Unix(), 10), "transaction_type": strconv.Itoa(int(tx.Type)),
		"receipt_gas_used": u64(tx.GasUsed), "receipt_contract_address": tx.ContractAddress,
		"receipt_effective_gas_price": tx.EffectiveGasPrice.String(),
	}
	if tx.Type < 2 {
		r["gas_price"] = tx.GasPrice.String()
	} else {
		r["max_fee_per_gas"] = tx.GasPrice.String()
	}
	return r
}

func transferRow(b *Block, tr TokenTransfer) row {
	return row{
		"token_address": tr.Token, "from_address": tr.From, "to_address": tr.To, "value": tr.Value.String(),
		"transaction_hash": tr.TxHash, "log_index": u64(uint64(tr.LogIndex)), "block_number": u64(b.Number),
	}
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }

// checkTxs compares the block's txs with ethereum-etl's, by hash. A null
// receipt_status is ethereum-etl's pre-Byzantium receipt: ours says 1.
func checkTxs(t *testing.T, b *Block, want []row) {
	t.Helper()
	if len(want) != len(b.Txs) {
		t.Errorf("%d txs, ethereum-etl has %d", len(b.Txs), len(want))
	}
	byHash := map[string]row{}
	for _, w := range want {
		byHash[w["hash"]] = w
	}
	for _, tx := range b.Txs {
		w, ok := byHash[tx.Hash]
		if !ok {
			t.Errorf("tx %s not in ethereum-etl's output", tx.Hash)
			continue
		}
		compareRow(t, "tx "+tx.Hash, w, txRow(b, tx))
		if s, ok := w["receipt_status"]; ok {
			want := s
			if s == "" {
				want = "1"
			}
			if got := strconv.Itoa(int(tx.Status)); got != want {
				t.Errorf("tx %s: status %s, ethereum-etl has %q", tx.Hash, got, s)
			}
		}
	}
}

func checkTransfers(t *testing.T, b *Block, want []row) {
	t.Helper()
	if len(want) != len(b.Transfers) {
		t.Errorf("%d transfers, ethereum-etl has %d", len(b.Transfers), len(want))
	}
	byKey := map[string]row{}
	for _, w := range want {
		byKey[w["transaction_hash"]+"/"+w["log_index"]] = w
	}
	for _, tr := range b.Transfers {
		key := tr.TxHash + "/" + u64(uint64(tr.LogIndex))
		w, ok := byKey[key]
		if !ok {
			t.Errorf("transfer %s not in ethereum-etl's output", key)
			continue
		}
		compareRow(t, "transfer "+key, w, transferRow(b, tr))
	}
}

// TestETLBlock483920: 2015, Parity answers (extra "author", "sealFields"),
// pre-Byzantium receipts with "status": null and a root.
func TestETLBlock483920(t *testing.T) {
	eth := sharedTestdata(t, "eth", "etl_483920")
	res := sharedTestdata(t, etlResources)
	block := unwrap(t, readFile(t, filepath.Join(eth, "web3_response.eth_getBlockByNumber_0x76250_true.json")))
	b, err := DecodeBlock(block, receiptFiles(t, eth))
	if err != nil {
		t.Fatal(err)
	}
	compareRow(t, "block", readCSV(t, filepath.Join(res, "test_export_blocks_job/block_with_logs/expected_blocks.csv"))[0], blockRow(b))
	checkTxs(t, b, readCSV(t, filepath.Join(res, "test_export_blocks_job/block_with_logs/expected_transactions.csv")))
	checkTransfers(t, b, readCSV(t, filepath.Join(res, "test_export_token_transfers_job/block_with_transfers/expected_token_transfers.csv")))

	// the receipts export: gas used, status null, effective price
	for _, w := range readJSONLines(t, filepath.Join(res, "test_export_receipts_job/receipts_with_logs/expected_receipts.json")) {
		var tx *Tx
		for i := range b.Txs {
			if b.Txs[i].Hash == w["transaction_hash"] {
				tx = &b.Txs[i]
			}
		}
		if tx == nil {
			t.Fatalf("receipt of %s: no tx", w["transaction_hash"])
		}
		compareRow(t, "receipt "+tx.Hash, w, row{
			"transaction_index": u64(uint64(tx.Index)), "block_hash": b.Hash, "block_number": u64(b.Number),
			"gas_used": u64(tx.GasUsed), "contract_address": tx.ContractAddress, "effective_gas_price": tx.EffectiveGasPrice.String(),
		})
		if w["status"] != "" || w["root"] == "" || tx.Status != 1 {
			t.Errorf("receipt %s: status %q root %q; ours %d", tx.Hash, w["status"], w["root"], tx.Status)
		}
	}

	// The Transfer logs ethereum-etl fetched with eth_getFilterLogs are the
	// ones in the receipts.
	var logs []struct {
		TransactionHash string `json:"transactionHash"`
		LogIndex        string `json:"logIndex"`
	}
	if err := json.Unmarshal(unwrap(t, readFile(t, filepath.Join(eth, "web3_response.eth_getFilterLogs_0x0.json"))), &logs); err != nil {
		t.Fatal(err)
	}
	if len(logs) != len(b.Transfers) {
		t.Fatalf("%d filter logs, %d transfers", len(logs), len(b.Transfers))
	}
	for i, l := range logs {
		if tr := b.Transfers[i]; l.TransactionHash != tr.TxHash || l.LogIndex != fmt.Sprintf("0x%x", tr.LogIndex) {
			t.Errorf("filter log %d is %s/%s, transfer %s/%d", i, l.TransactionHash, l.LogIndex, tr.TxHash, tr.LogIndex)
		}
	}
}

// receiptFiles collects the eth_getTransactionReceipt responses in dir into
// one array, in file-name order (not block order) and still wrapped.
func receiptFiles(t *testing.T, dir string) json.RawMessage {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "web3_response.eth_getTransactionReceipt_*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var parts []json.RawMessage
	for _, p := range paths {
		parts = append(parts, readFile(t, p))
	}
	return unwrap(t, mustJSON(t, parts))
}

// TestETLBlocks1755634: an empty block and one with an ERC-20 transfer and
// pre-Byzantium receipts without any status key.
func TestETLBlocks1755634(t *testing.T) {
	eth := sharedTestdata(t, "eth", "etl_1755634_1755635")
	res := sharedTestdata(t, etlResources, "test_stream/blocks_1755634_1755635")
	wantBlocks := readJSONLines(t, filepath.Join(res, "expected_blocks.json"))
	for i, name := range []string{"0x1ac9f2", "0x1ac9f3"} {
		block := unwrap(t, readFile(t, filepath.Join(eth, "web3_response.eth_getBlockByNumber_"+name+"_true.json")))
		var receipts json.RawMessage
		if i == 1 {
			receipts = receiptFiles(t, eth)
		}
		b, err := DecodeBlock(block, receipts)
		if err != nil {
			t.Fatal(err)
		}
		compareRow(t, "block "+name, wantBlocks[i], blockRow(b))
		if i == 0 {
			if len(b.Txs) != 0 {
				t.Errorf("block %s: %d txs", name, len(b.Txs))
			}
			continue
		}
		checkTxs(t, b, readJSONLines(t, filepath.Join(res, "expected_transactions.json")))
		checkTransfers(t, b, readJSONLines(t, filepath.Join(res, "expected_token_transfers.json")))
	}
}

func TestETLGenesis(t *testing.T) {
	eth := sharedTestdata(t, "eth", "etl_0")
	res := sharedTestdata(t, etlResources)
	b, err := DecodeBlock(unwrap(t, readFile(t, filepath.Join(eth, "web3_response.eth_getBlockByNumber_0x0_true.json"))), nil)
	if err != nil {
		t.Fatal(err)
	}
	compareRow(t, "genesis", readCSV(t, filepath.Join(res, "test_export_blocks_job/block_without_transactions/expected_blocks.csv"))[0], blockRow(b))
}

// TestETLBlocks47218: ethereum-etl saved these blocks without receipts, so
// DecodeBlock must refuse them; their header and transaction fields are
// still compared, decoded by the same functions DecodeBlock uses.
func TestETLBlocks47218(t *testing.T) {
	eth := sharedTestdata(t, "eth", "etl_47218_47219")
	res := sharedTestdata(t, etlResources, "test_export_blocks_job/blocks_with_transactions")
	wantBlocks := readCSV(t, filepath.Join(res, "expected_blocks.csv"))
	wantTxs := readCSV(t, filepath.Join(res, "expected_transactions.csv"))
	for i, name := range []string{"0xb872", "0xb873"} {
		raw := unwrap(t, readFile(t, filepath.Join(eth, "web3_response.eth_getBlockByNumber_"+name+"_true.json")))
		_, err := DecodeBlock(raw, nil)
		if err == nil || !strings.Contains(err.Error(), "(index 0) has no receipt") {
			t.Errorf("block %s without receipts: err = %v", name, err)
		}
		var rb rpcBlock
		if err := json.Unmarshal(raw, &rb); err != nil {
			t.Fatal(err)
		}
		b, err := decodeHeader(&rb)
		if err != nil {
			t.Fatal(err)
		}
		for j, rt := range *rb.Transactions {
			var tx Tx
			if err := decodeTx(rt, j, b.Hash, &tx); err != nil {
				t.Fatal(err)
			}
			b.Txs = append(b.Txs, tx)
		}
		compareRow(t, "block "+name, wantBlocks[i], blockRow(b))
		var mine []row
		for _, w := range wantTxs {
			if w["block_hash"] == b.Hash {
				mine = append(mine, w)
			}
		}
		if len(mine) != len(b.Txs) {
			t.Errorf("block %s: %d txs, ethereum-etl has %d", name, len(b.Txs), len(mine))
		}
		for j, tx := range b.Txs {
			tx.EffectiveGasPrice = new(big.Int) // no receipt: leave receipt fields out
			got := txRow(b, tx)
			for _, k := range []string{"receipt_gas_used", "receipt_contract_address", "receipt_effective_gas_price"} {
				delete(got, k)
			}
			compareRow(t, "tx "+tx.Hash, mine[j], got)
		}
	}
}

// TestETLTransferRule runs the ERC-20 rule over the logs ethereum-etl saw
// and compares with the transfers it extracted. ethereum-etl reads topics
// and data words together, so it also takes ERC-721 Transfers (four topics)
// as token transfers; those must be exactly the logs we set aside as bad.
func TestETLTransferRule(t *testing.T) {
	res := sharedTestdata(t, etlResources)
	type etlLog struct {
		key, address, data string
		topics             []string
	}
	cases := []struct {
		name       string
		logs       func() []etlLog
		transfers  string
		wantERC20  int
		wantERC721 int
		wantUSDT   int
	}{{
		name: "1452581 logs.csv",
		logs: func() []etlLog {
			var out []etlLog
			for _, r := range readCSV(t, filepath.Join(res, "test_extract_token_transfers_job/logs/logs.csv")) {
				out = append(out, etlLog{r["transaction_hash"] + "/" + r["log_index"], r["address"], r["data"], strings.Split(r["topics"], ",")})
			}
			return out
		},
		transfers: "test_extract_token_transfers_job/logs/expected_token_transfers.csv",
		wantERC20: 2,
	}, {
		// 17173049-17173050, post-Shanghai: ethereum-etl's 291 transfers,
		// 41 of USDT (SOURCES.md).
		name: "17173049-17173050 expected_logs.json",
		logs: func() []etlLog {
			var out []etlLog
			for _, line := range bytes.Split(bytes.TrimSpace(readFile(t, filepath.Join(res, "test_stream/blocks_17173049_17173050/expected_logs.json"))), []byte("\n")) {
				var l struct {
					LogIndex        int      `json:"log_index"`
					TransactionHash string   `json:"transaction_hash"`
					Address         string   `json:"address"`
					Data            string   `json:"data"`
					Topics          []string `json:"topics"`
				}
				if err := json.Unmarshal(line, &l); err != nil {
					t.Fatal(err)
				}
				out = append(out, etlLog{l.TransactionHash + "/" + strconv.Itoa(l.LogIndex), l.Address, l.Data, l.Topics})
			}
			return out
		},
		transfers: "test_stream/blocks_17173049_17173050/expected_token_transfers.json",
		wantERC20: 282, wantERC721: 9, wantUSDT: 41,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(res, tc.transfers)
			if _, err := os.Stat(path); err != nil {
				t.Skip(err)
			}
			var want []row
			if strings.HasSuffix(path, ".csv") {
				want = readCSV(t, path)
			} else {
				want = readJSONLines(t, path)
			}
			wantByKey := map[string]row{}
			for _, w := range want {
				wantByKey[w["transaction_hash"]+"/"+w["log_index"]] = w
			}
			var erc20, erc721, nUSDT int
			var seen []string
			for _, l := range tc.logs() {
				if len(l.topics) == 0 || l.topics[0] != TransferTopic {
					continue
				}
				from, to, v, ok := erc20Transfer(l.topics, l.data)
				w, inETL := wantByKey[l.key]
				if !inETL {
					t.Errorf("log %s: a Transfer log ethereum-etl did not extract", l.key)
					continue
				}
				seen = append(seen, l.key)
				if !ok {
					erc721++
					if len(l.topics) != 4 || l.data != "0x" {
						t.Errorf("log %s: set aside, but it is not ERC-721-shaped", l.key)
					}
					continue
				}
				erc20++
				if l.address == usdt {
					nUSDT++
				}
				compareRow(t, "log "+l.key, w, row{"token_address": l.address, "from_address": from, "to_address": to, "value": v.String()})
			}
			sort.Strings(seen)
			if len(seen) != len(want) {
				t.Errorf("%d of ethereum-etl's %d transfers found among the logs", len(seen), len(want))
			}
			if erc20 != tc.wantERC20 || erc721 != tc.wantERC721 || nUSDT != tc.wantUSDT {
				t.Errorf("%d ERC-20 (%d USDT), %d ERC-721; want %d (%d), %d", erc20, nUSDT, erc721, tc.wantERC20, tc.wantUSDT, tc.wantERC721)
			}
		})
	}
}

// TestETLGethTraces compares DecodeTraces with ethereum-etl's extraction
// of the same callTracer answers (shape {"result": frame} without txHash).
// ethereum-etl lists every frame; the internal transfers are its frames
// with a trace address (not the top), no error and a value, of a type that
// moves value: CALL, CREATE, CREATE2 and SELFDESTRUCT ("suicide"), but not
// CALLCODE, which pays its value to the caller itself.
func TestETLGethTraces(t *testing.T) {
	eth := sharedTestdata(t, "eth", "etl_geth_traces")
	res := sharedTestdata(t, etlResources, "test_extract_geth_traces_job")
	for _, name := range []string{"block_with_create", "block_with_error", "block_with_subtraces", "block_with_suicide"} {
		t.Run(name, func(t *testing.T) {
			paths, _ := filepath.Glob(filepath.Join(eth, name, "*.json"))
			if len(paths) != 1 {
				t.Fatalf("%d trace files", len(paths))
			}
			traces := unwrap(t, readFile(t, paths[0]))
			rows := readCSV(t, filepath.Join(res, name, "expected_traces.csv"))
			// A block with the traced txs: sender from the top frames,
			// success unless the top frame failed.
			b := &Block{Hash: hash32(0)}
			var want []row
			for _, r := range rows {
				idx, _ := strconv.Atoi(r["transaction_index"])
				if r["trace_address"] == "" {
					status := uint8(1)
					if r["error"] != "" {
						status = 0
					}
					b.Txs = append(b.Txs, Tx{Hash: hash32(byte(idx + 1)), Index: uint32(idx), From: r["from_address"], Status: status})
					continue
				}
				moves := r["call_type"] == "call" || r["trace_type"] == "create" || r["trace_type"] == "suicide"
				if moves && r["error"] == "" && r["value"] != "" && r["value"] != "0" {
					want = append(want, r)
				}
			}
			if err := DecodeTraces(traces, b); err != nil {
				t.Fatal(err)
			}
			if len(b.Internal) != len(want) {
				t.Fatalf("%d internal transfers, ethereum-etl's rows give %d", len(b.Internal), len(want))
			}
			for i, w := range want {
				it := b.Internal[i]
				addr := strings.ReplaceAll(w["trace_address"], ",", ".")
				compareRow(t, "trace "+addr, w, row{"from_address": it.From, "to_address": it.To, "value": it.Value.String(), "trace_address": addr})
			}
		})
	}
}
