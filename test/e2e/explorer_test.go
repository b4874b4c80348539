package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
)

// get fetches an explorer path and decodes {"data", "next_cursor"}.
func (a *apiEnv) get(t *testing.T, path string, data any) (int, string) {
	t.Helper()
	resp, err := http.Get(a.srv.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env struct {
		Data    json.RawMessage `json:"data"`
		Next    string          `json:"next_cursor"`
		Message string          `json:"message"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if resp.StatusCode == 200 && data != nil {
		if err := json.Unmarshal(env.Data, data); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
	if resp.StatusCode != 200 {
		return resp.StatusCode, env.Message
	}
	return resp.StatusCode, env.Next
}

type xBlock struct {
	Height   uint64   `json:"height"`
	Hash     string   `json:"hash"`
	PrevHash string   `json:"prev_hash"`
	Time     int64    `json:"time"`
	TxCount  uint32   `json:"tx_count"`
	Size     uint32   `json:"size"`
	TxIDs    []string `json:"txids"`
}

type xAddrTx struct {
	TxID        string `json:"txid"`
	BlockHeight uint64 `json:"block_height"`
	Received    string `json:"received"`
	Sent        string `json:"sent"`
}

// TestExplorer: the explorer API of `sluice serve` over the test stack's
// chains. Every BTC and LTC block it serves matches the node's getblock
// (hash, parent, time, size, transactions in order), every ETH block
// matches eth_getBlockByHash; a transaction shows its outputs and its inputs'
// prevouts as the node does; an address's history pages newest first with
// a cursor that a new block does not disturb; spends are resolved, so the
// balance of the mining address equals its unspent outputs; a reorg is
// followed; USDT transfers are found by address and by token.
func TestExplorer(t *testing.T) {
	btc, ltc := nodeFor(t, "btc"), nodeFor(t, "ltc")
	eth, err := jsonrpc.New(testenv.Get(t, "SLUICE_ETH_RPC"))
	if err != nil {
		t.Fatal(err)
	}
	usdt := strings.ToLower(testenv.Get(t, "SLUICE_USDT_CONTRACT"))
	a := newAPIEnv(t)
	a.srv = startServeArgs(t, a.env)
	for _, n := range []*node{btc, ltc} {
		top := n.height(t)
		waitFor(t, n.chain+" indexed", 120*time.Second, func() bool { return a.checkpoint(t, n.chain) >= top })
	}

	// an LTC address paid three times, a page of two, then a fourth payment in a
	// new block; the address is of a wallet of its own, so that the stack's
	// paying wallet never spends from it
	var created any
	if err := ltc.rpc.Call(context.Background(), "createwallet", &created, "explorer-test"); err != nil &&
		!strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	_ = ltc.rpc.Call(context.Background(), "loadwallet", &created, "explorer-test") // after a node restart
	own, err := jsonrpc.New(testenv.Get(t, "SLUICE_LTC_RPC")+"/wallet/explorer-test", jsonrpc.WithVersion("1.0"))
	if err != nil {
		t.Fatal(err)
	}
	var addr string
	if err := own.Call(context.Background(), "getnewaddress", &addr, "", "bech32"); err != nil {
		t.Fatal(err)
	}
	var paid []string
	for _, amt := range []string{"0.1", "0.2", "0.3"} {
		paid = append(paid, devnetPay(t, "LTC", addr, amt))
		devnetMine(t, "ltc", 1)
	}
	top := ltc.height(t)
	waitFor(t, "ltc indexed", 60*time.Second, func() bool { return a.checkpoint(t, "ltc") >= top })
	var page1 []xAddrTx
	code, next := a.get(t, "/v1/ltc/address/"+addr+"/txs?limit=2", &page1)
	if code != 200 || len(page1) != 2 || next == "" || page1[0].TxID != paid[2] || page1[1].TxID != paid[1] || page1[0].Received != "30000000" {
		t.Fatalf("page 1: %d %+v next %q", code, page1, next)
	}
	paid = append(paid, devnetPay(t, "LTC", addr, "0.4"))
	devnetMine(t, "ltc", 1)
	top = ltc.height(t)
	waitFor(t, "ltc indexed", 60*time.Second, func() bool { return a.checkpoint(t, "ltc") >= top })
	var page2 []xAddrTx
	if code, next := a.get(t, "/v1/ltc/address/"+addr+"/txs?limit=2&cursor="+next, &page2); code != 200 || len(page2) != 1 ||
		page2[0].TxID != paid[0] || next != "" {
		t.Fatalf("page 2 after a new block: %d %+v next %q", code, page2, next)
	}
	var fresh []xAddrTx
	if code, _ := a.get(t, "/v1/ltc/address/"+addr+"/txs", &fresh); code != 200 || len(fresh) != 4 || fresh[0].TxID != paid[3] {
		t.Fatalf("history: %+v", fresh)
	}
	var bal struct{ Received, Sent, Balance string }
	if code, _ := a.get(t, "/v1/ltc/address/"+addr+"/balance", &bal); code != 200 || bal.Received != "100000000" || bal.Balance != "100000000" {
		t.Errorf("balance %+v", bal)
	}

	// a transaction as the node has it
	var tx struct {
		TxID   string `json:"txid"`
		Inputs []struct {
			PrevTxID string `json:"prev_txid"`
			PrevVout uint32 `json:"prev_vout"`
			Address  string `json:"address"`
			Value    string `json:"value"`
		} `json:"inputs"`
		Outputs []struct {
			N       uint32
			Value   string
			Address string
		} `json:"outputs"`
	}
	if code, msg := a.get(t, "/v1/ltc/tx/"+paid[1], &tx); code != 200 {
		t.Fatalf("tx: %d %s", code, msg)
	}
	var raw struct {
		Vin []struct {
			TxID string `json:"txid"`
			Vout uint32 `json:"vout"`
		} `json:"vin"`
	}
	if err := ltc.rpc.Call(context.Background(), "getrawtransaction", &raw, paid[1], 1); err != nil {
		t.Fatal(err)
	}
	want := paidTo(t, ltc, paid[1])
	got := map[string]string{}
	for _, o := range tx.Outputs {
		got[o.Address] = o.Value
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(tx.Inputs) != len(raw.Vin) {
		t.Errorf("tx outputs %v, node %v; inputs %d, node %d", got, want, len(tx.Inputs), len(raw.Vin))
	}
	for i, in := range tx.Inputs {
		prev := paidTo(t, ltc, raw.Vin[i].TxID)
		if in.PrevTxID != raw.Vin[i].TxID || in.PrevVout != raw.Vin[i].Vout || prev[in.Address] != in.Value {
			t.Errorf("input %d %+v, node %+v (prev pays %v)", i, in, raw.Vin[i], prev)
		}
	}
	if code, _ := a.get(t, "/v1/ltc/tx/"+strings.Repeat("ab", 32), nil); code != 404 {
		t.Errorf("an unknown tx: %d", code)
	}
	if code, _ := a.get(t, "/v1/ltc/tx/nothex", nil); code != 400 {
		t.Errorf("a malformed txid: %d", code)
	}

	// a reorg: the tip replaced by two new blocks
	old := ltc.hashAt(t, top)
	if err := ltc.rpc.Call(context.Background(), "invalidateblock", nil, old); err != nil {
		t.Fatal(err)
	}
	devnetMine(t, "ltc", 2)
	top = ltc.height(t)
	waitFor(t, "ltc reorg indexed", 60*time.Second, func() bool {
		var b xBlock
		code, _ := a.get(t, fmt.Sprintf("/v1/ltc/block/%d", top), &b)
		return code == 200 && b.Hash == ltc.hashAt(t, top)
	})
	if code, _ := a.get(t, "/v1/ltc/block/"+old, nil); code != 404 {
		t.Errorf("the orphaned block %s still served: %d", old, code)
	}

	// every block, as the node sees it
	for _, n := range []*node{btc, ltc} {
		top := n.height(t)
		waitFor(t, n.chain+" indexed", 60*time.Second, func() bool { return a.checkpoint(t, n.chain) >= top })
		for h := int64(0); h <= top; h++ {
			var b xBlock
			if code, msg := a.get(t, fmt.Sprintf("/v1/%s/block/%d", n.chain, h), &b); code != 200 {
				t.Fatalf("%s block %d: %d %s", n.chain, h, code, msg)
			}
			var nb struct {
				Hash   string   `json:"hash"`
				Prev   string   `json:"previousblockhash"`
				Time   int64    `json:"time"`
				Size   uint32   `json:"size"`
				Tx     []string `json:"tx"`
				Height uint64   `json:"height"`
			}
			if err := n.rpc.Call(context.Background(), "getblock", &nb, n.hashAt(t, h), 1); err != nil {
				t.Fatal(err)
			}
			if h == 0 && nb.Prev == "" {
				nb.Prev = strings.Repeat("0", 64) // litecoind omits the genesis block's parent; btcd gives zeros, as the index
			}
			if b.Hash != nb.Hash || b.PrevHash != nb.Prev || b.Time != nb.Time || b.Size != nb.Size || b.Height != nb.Height ||
				int(b.TxCount) != len(nb.Tx) || strings.Join(b.TxIDs, ",") != strings.Join(nb.Tx, ",") {
				t.Fatalf("%s block %d: explorer %+v, node %+v", n.chain, h, b, nb)
			}
			var again xBlock
			if a.get(t, "/v1/"+n.chain+"/block/"+b.Hash, &again); again.Height != b.Height {
				t.Fatalf("%s block by hash %s: %+v", n.chain, b.Hash, again)
			}
		}
	}

	// spends resolved: the BTC mining address (coinbases in, payments out)
	// has a balance equal to its unspent outputs
	miner := testenv.Get(t, "SLUICE_BTC_MINING_ADDRESS")
	waitFor(t, "btc spends resolved", 60*time.Second, func() bool {
		var b struct {
			Resolved int64 `json:"resolved_height"`
		}
		a.get(t, "/v1/btc/address/"+miner+"/balance", &b)
		return b.Resolved >= btc.height(t)
	})
	var mb struct{ Received, Sent, Balance string }
	a.get(t, "/v1/btc/address/"+miner+"/balance", &mb)
	unspent, received, sent := new(big.Int), new(big.Int), new(big.Int)
	cur, pages := "", 0
	for {
		var txs []xAddrTx
		code, next := a.get(t, "/v1/btc/address/"+miner+"/txs?limit=200&cursor="+cur, &txs)
		if code != 200 {
			t.Fatalf("miner history: %d %s", code, next)
		}
		pages++
		for _, x := range txs {
			received.Add(received, mustBig(t, x.Received))
			sent.Add(sent, mustBig(t, x.Sent))
			if x.Received == "0" {
				continue
			}
			var full struct {
				Outputs []struct {
					Value, Address string
					SpentBy        *struct{ TxID string } `json:"spent_by"`
				} `json:"outputs"`
			}
			a.get(t, "/v1/btc/tx/"+x.TxID, &full)
			for _, o := range full.Outputs {
				if o.Address == miner && o.SpentBy == nil {
					unspent.Add(unspent, mustBig(t, o.Value))
				}
			}
		}
		if cur = next; cur == "" {
			break
		}
	}
	if mb.Received != received.String() || mb.Sent != sent.String() || mb.Balance != unspent.String() || sent.Sign() == 0 {
		t.Errorf("mining address %s: balance %+v; history received %s sent %s; unspent outputs %s (%d pages)",
			miner, mb, received, sent, unspent, pages)
	}

	// ETH: every block as geth has it, and a USDT payment found by address and by token
	to := devnetAddress(t, "eth")
	usdtTx := devnetPay(t, "USDT", to, "25.5")
	head := ethHead(t, eth)
	waitFor(t, "eth indexed", 120*time.Second, func() bool { return a.checkpoint(t, "eth") >= head })
	for h := int64(0); h <= head; h++ {
		var b struct {
			Hash         string   `json:"hash"`
			ParentHash   string   `json:"parent_hash"`
			Miner        string   `json:"miner"`
			Time         int64    `json:"time"`
			GasUsed      uint64   `json:"gas_used"`
			Transactions []string `json:"transactions"`
		}
		if code, msg := a.get(t, fmt.Sprintf("/v1/eth/block/%d", h), &b); code != 200 {
			t.Fatalf("eth block %d: %d %s", h, code, msg)
		}
		var nb struct {
			Hash, ParentHash, Miner, Timestamp, GasUsed string
			Transactions                                []string
		}
		if err := eth.Call(context.Background(), "eth_getBlockByHash", &nb, b.Hash, false); err != nil {
			t.Fatal(err)
		}
		ts, _ := strconv.ParseInt(strings.TrimPrefix(nb.Timestamp, "0x"), 16, 64)
		gu, _ := strconv.ParseUint(strings.TrimPrefix(nb.GasUsed, "0x"), 16, 64)
		if nb.Hash != b.Hash || nb.ParentHash != b.ParentHash || ts != b.Time || gu != b.GasUsed ||
			strings.ToLower(nb.Miner) != b.Miner || strings.Join(nb.Transactions, ",") != strings.Join(b.Transactions, ",") {
			t.Fatalf("eth block %d: explorer %+v, node %+v", h, b, nb)
		}
	}
	var byAddr, byToken []struct {
		TxHash string `json:"tx_hash"`
		Token  string `json:"token"`
		To     string `json:"to"`
		Value  string `json:"value"`
	}
	if code, _ := a.get(t, "/v1/eth/address/"+to+"/transfers", &byAddr); code != 200 || len(byAddr) != 1 ||
		byAddr[0].TxHash != usdtTx || byAddr[0].Token != usdt || byAddr[0].Value != "25500000" {
		t.Errorf("transfers of %s: %+v", to, byAddr)
	}
	found := false
	for cur := ""; !found; {
		code, next := a.get(t, "/v1/eth/token/"+usdt+"/transfers?limit=100&cursor="+cur, &byToken)
		if code != 200 {
			t.Fatalf("token transfers: %d %s", code, next)
		}
		for _, x := range byToken {
			found = found || (x.TxHash == usdtTx && x.To == strings.ToLower(to) && x.Value == "25500000")
		}
		if cur = next; cur == "" {
			break
		}
	}
	if !found {
		t.Errorf("the USDT transfer %s is not among the token's transfers", usdtTx)
	}
	var eb struct {
		Assets []struct{ Token, Net string } `json:"assets"`
	}
	if a.get(t, "/v1/eth/address/"+to+"/balance", &eb); len(eb.Assets) != 1 || eb.Assets[0].Token != usdt || eb.Assets[0].Net != "25500000" {
		t.Errorf("eth balance %+v", eb)
	}
	if code, _ := a.get(t, "/v1/btc/address/"+miner+"/transfers", nil); code != 404 {
		t.Errorf("token transfers on btc: %d", code)
	}
	if code, _ := a.get(t, "/v1/doge/block/1", nil); code != 404 {
		t.Errorf("an unknown chain: %d", code)
	}
}
