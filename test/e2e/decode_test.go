package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type decodedBlock struct {
	Hash     string `json:"hash"`
	PrevHash string `json:"prev_hash"`
	Txs      []struct {
		TxID string `json:"txid"`
		Vout []struct {
			N       uint32  `json:"n"`
			Value   int64   `json:"value"`
			Type    string  `json:"type"`
			Address *string `json:"address"`
		} `json:"vout"`
	} `json:"txs"`
}

// TestDecodeBlockMatchesNode decodes blocks the stack's nodes serve (hex in a
// file) and checks them against the nodes' own verbose view.
func TestDecodeBlockMatchesNode(t *testing.T) {
	for _, chain := range []string{"btc", "ltc"} {
		t.Run(chain, func(t *testing.T) {
			n := nodeFor(t, chain)
			ctx := context.Background()
			if chain == "ltc" {
				// a block with every address type the wallet makes, and change
				for _, typ := range []string{"legacy", "p2sh-segwit", "bech32", "mweb"} {
					var addr, txid string
					if err := n.rpc.Call(ctx, "getnewaddress", &addr, "", typ); err != nil {
						t.Fatal(err)
					}
					if err := n.rpc.Call(ctx, "sendtoaddress", &txid, addr, 1.23456789); err != nil {
						t.Fatal(err)
					}
				}
				n.mine(t, 1)
			}
			hash := n.hashAt(t, n.height(t))
			var mweb struct {
				MWEB bool `json:"mweb"`
				Txs  []struct {
					HogEx bool `json:"hogex"`
				} `json:"txs"`
			}
			var raw string
			if err := n.rpc.Call(ctx, "getblock", &raw, hash, 0); err != nil {
				t.Fatal(err)
			}
			type vtx struct {
				TxID string `json:"txid"`
				Vout []struct {
					Value        float64 `json:"value"`
					ScriptPubKey struct {
						Address   string   `json:"address"`
						Addresses []string `json:"addresses"`
					} `json:"scriptPubKey"`
				} `json:"vout"`
			}
			var verbose struct {
				Hash              string `json:"hash"`
				PreviousBlockHash string `json:"previousblockhash"`
				Tx                []vtx  `json:"tx"`
				RawTx             []vtx  `json:"rawtx"` // btcd's name for the verbose transactions
			}
			if err := n.rpc.Call(ctx, "getblock", &verbose, hash, 2); err != nil {
				t.Fatal(err)
			}
			if len(verbose.Tx) == 0 {
				verbose.Tx = verbose.RawTx
			}
			f := filepath.Join(t.TempDir(), "block.hex")
			os.WriteFile(f, []byte(raw+"\n"), 0o644)
			r := run(t, nil, "decode", "block", "--chain", chain, "--network", "regtest", f)
			if r.code != 0 {
				t.Fatalf("decode: %s", r.stderr)
			}
			var got decodedBlock
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatal(err)
			}
			if chain == "ltc" {
				// a peg-in to an MWEB address: the block ends with a HogEx and an extension block
				if err := json.Unmarshal([]byte(r.stdout), &mweb); err != nil {
					t.Fatal(err)
				}
				if !mweb.MWEB || !mweb.Txs[len(mweb.Txs)-1].HogEx {
					t.Fatalf("want an MWEB block with a HogEx last: %+v", mweb)
				}
			}
			if chain == "ltc" && len(verbose.Tx) < 4 {
				t.Fatalf("the block should hold the wallet's payments, has %d txs", len(verbose.Tx))
			}
			if got.Hash != verbose.Hash || got.PrevHash != verbose.PreviousBlockHash || len(got.Txs) != len(verbose.Tx) {
				t.Fatalf("decoded %s/%s/%d txs, node %s/%s/%d", got.Hash, got.PrevHash, len(got.Txs), verbose.Hash, verbose.PreviousBlockHash, len(verbose.Tx))
			}
			for i, tx := range verbose.Tx {
				if got.Txs[i].TxID != tx.TxID || len(got.Txs[i].Vout) != len(tx.Vout) {
					t.Fatalf("tx %d: %s vs %s", i, got.Txs[i].TxID, tx.TxID)
				}
				for j, o := range tx.Vout {
					if sat := int64(o.Value*1e8 + 0.5); got.Txs[i].Vout[j].Value != sat {
						t.Errorf("tx %d out %d: value %d, node %d", i, j, got.Txs[i].Vout[j].Value, sat)
					}
					addr := o.ScriptPubKey.Address
					if addr == "" && len(o.ScriptPubKey.Addresses) == 1 {
						addr = o.ScriptPubKey.Addresses[0]
					}
					if addr != "" && (got.Txs[i].Vout[j].Address == nil || *got.Txs[i].Vout[j].Address != addr) {
						t.Errorf("tx %d out %d: address %v, node %s", i, j, got.Txs[i].Vout[j].Address, addr)
					}
				}
			}
		})
	}
}

func TestDecodeBlockBadInput(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct{ body, want string }{
		"text, not hex": {"hello world", "not hex"},
		"truncated":     {"0100000000", "decode block"},
		"empty":         {"", "empty"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
			os.WriteFile(f, []byte(c.body), 0o644)
			r := run(t, nil, "decode", "block", "--chain", "btc", f)
			if r.code != 1 || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("want exit 1 with %q, got %d: %s", c.want, r.code, r.stderr)
			}
			noCrash(t, r)
		})
	}
	if r := run(t, nil, "decode", "block", "--chain", "doge", filepath.Join(dir, "x")); r.code != 1 {
		t.Fatalf("unknown chain accepted: %s", r.stderr)
	}
}

func TestDecodeEthBlockBadInput(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"not json":    "hello",
		"truncated":   `{"block": {"hash": "0x12`,
		"no receipts": `{"block": {"hash": "0x1", "number": "0x1", "transactions": [{"hash": "0xab"}]}}`,
		"empty":       "",
		"rpc error":   `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"header not found"}}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
			os.WriteFile(f, []byte(body), 0o644)
			r := run(t, nil, "decode", "eth-block", f)
			if r.code != 1 || !strings.Contains(r.stderr, "decode eth-block") {
				t.Fatalf("want exit 1 with a decode eth-block error, got %d: %s", r.code, r.stderr)
			}
			noCrash(t, r)
		})
	}
}
