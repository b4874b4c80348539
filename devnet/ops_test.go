package devnet

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
)

// testNodes are the test stack's nodes, as `sluice devnet` reads them from the stack.
func testNodes(t *testing.T) Nodes {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Get(t, "SLUICE_STACK_DIR"), "stack.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Key    string `json:"btc_mining_key"`
		Wallet string `json:"ltc_wallet"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Key == "" || st.Wallet == "" {
		t.Fatalf("stack state: %v", err)
	}
	return Nodes{
		BTCRPC: testenv.Get(t, "SLUICE_BTC_RPC"), BTCMiningKey: st.Key,
		LTCRPC: testenv.Get(t, "SLUICE_LTC_RPC"), LTCWallet: st.Wallet,
		ETHRPC: testenv.Get(t, "SLUICE_ETH_RPC"), ETHDevAccount: testenv.Get(t, "SLUICE_ETH_DEV_ACCOUNT"),
		USDTContract: testenv.Get(t, "SLUICE_USDT_CONTRACT"), USDCContract: testenv.Get(t, "SLUICE_USDC_CONTRACT"),
		EVM: []EVMChain{{Key: "sidechain", ChainID: 1338, RPC: testenv.Get(t, "SLUICE_SIDECHAIN_RPC"),
			DevAccount: testenv.Get(t, "SLUICE_SIDECHAIN_DEV_ACCOUNT"), Native: Token{Symbol: "SIDE", Decimals: 18},
			Tokens: []Token{{Symbol: "USDT", Decimals: 6, Contract: testenv.Get(t, "SLUICE_SIDECHAIN_USDT_CONTRACT")}}}},
		Log: testLog{t},
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// paidTo returns what transaction txid pays to addr, in base units, as the node shows it.
func paidTo(ctx context.Context, t *testing.T, c *jsonrpc.Client, txid, addr string) (units *big.Int, blockHash string) {
	t.Helper()
	var tx struct {
		BlockHash string `json:"blockhash"`
		Vout      []struct {
			Value        json.Number `json:"value"`
			ScriptPubKey struct {
				Address   string   `json:"address"`
				Addresses []string `json:"addresses"` // btcd
			} `json:"scriptPubKey"`
		} `json:"vout"`
	}
	if err := c.Call(ctx, "getrawtransaction", &tx, txid, 1); err != nil {
		t.Fatal(err)
	}
	total := new(big.Int)
	for _, o := range tx.Vout {
		if o.ScriptPubKey.Address == addr || (len(o.ScriptPubKey.Addresses) == 1 && o.ScriptPubKey.Addresses[0] == addr) {
			v, err := amount.Parse(o.Value.String(), 8)
			if err != nil {
				t.Fatalf("output value %s: %v", o.Value, err)
			}
			total.Add(total, v)
		}
	}
	return total, tx.BlockHash
}

func height(ctx context.Context, t *testing.T, c *jsonrpc.Client) int64 {
	t.Helper()
	var h int64
	if err := c.Call(ctx, "getblockcount", &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestPayMineBitcoinFamily pays on btcd and litecoind, twice without a block
// in between (two payments in one mempool), then mines and finds them in the block.
func TestPayMineBitcoinFamily(t *testing.T) {
	n := testNodes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, c := range []struct {
		chain, cur string
		amounts    []string
		want       []int64
	}{
		{"btc", "BTC", []string{"0.00012345", "1.5"}, []int64{12_345, 150_000_000}},
		{"ltc", "LTC", []string{"0.12345678", "0.0001"}, []int64{12_345_678, 10_000}},
	} {
		t.Run(c.chain, func(t *testing.T) {
			var node *jsonrpc.Client
			var err error
			if c.chain == "btc" {
				node, err = n.btc()
			} else {
				node, err = n.ltc(false)
			}
			if err != nil {
				t.Fatal(err)
			}
			var txids, addrs []string
			for i, amount := range c.amounts {
				addr, err := n.NewAddress(ctx, c.chain)
				if err != nil {
					t.Fatal(err)
				}
				if err := ValidateAddress(c.chain, addr); err != nil {
					t.Fatalf("NewAddress made %s: %v", addr, err)
				}
				txid, err := n.Pay(ctx, c.cur, addr, amount)
				if err != nil {
					t.Fatal(err)
				}
				got, block := paidTo(ctx, t, node, txid, addr)
				if got.Int64() != c.want[i] || block != "" {
					t.Fatalf("%s pays %s to %s (block %q), want %d unconfirmed", txid, got, addr, block, c.want[i])
				}
				txids, addrs = append(txids, txid), append(addrs, addr)
			}
			before := height(ctx, t, node)
			m, err := n.Mine(ctx, c.chain, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Hashes) != 2 || m.Height < before+2 {
				t.Fatalf("mined %+v from height %d", m, before)
			}
			for i, txid := range txids {
				if _, block := paidTo(ctx, t, node, txid, addrs[i]); block != m.Hashes[0] {
					t.Errorf("%s is in block %q, want the first mined, %s", txid, block, m.Hashes[0])
				}
			}
		})
	}
}

// TestPayMineEthereum pays ETH, devnet USDT and devnet USDC (more than the
// dev account holds, so it mints first) and waits for geth blocks.
func TestPayMineEthereum(t *testing.T) {
	n := testNodes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := n.ethNode().client()
	if err != nil {
		t.Fatal(err)
	}
	to, err := n.NewAddress(ctx, "eth")
	if err != nil {
		t.Fatal(err)
	}
	h, err := n.Pay(ctx, "ETH", to, "0.000000000000000123")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := WaitReceipt(ctx, n.ETHRPC, h); err != nil || r.Status != 1 {
		t.Fatalf("receipt of %s: %+v, %v", h, r, err)
	}
	if got := ethBalance(ctx, t, c, to); got.Int64() != 123 {
		t.Errorf("%s holds %s wei, want 123", to, got)
	}

	// Each token: more than the dev account holds, so it mints first; the
	// recipient gets exactly the amount, in one Transfer log.
	for _, tok := range []struct{ code, contract string }{{"usdt", n.USDTContract}, {"USDC", n.USDCContract}} {
		bal, err := BalanceOf(ctx, n.ETHRPC, tok.contract, n.ETHDevAccount)
		if err != nil {
			t.Fatal(err)
		}
		want := new(big.Int).Add(bal, big.NewInt(1_500_001))
		h, err := n.Pay(ctx, tok.code, to, amount.Format(want, 6))
		if err != nil {
			t.Fatal(err)
		}
		r, err := WaitReceipt(ctx, n.ETHRPC, h)
		if err != nil {
			t.Fatal(err)
		}
		checkTransferLog(t, r, tok.contract, n.ETHDevAccount, to, want.Int64())
		if got := tokenBalance(ctx, t, n.ETHRPC, tok.contract, to); got != want.Int64() {
			t.Errorf("%s holds %d %s units, want %s", to, got, tok.code, want)
		}
	}
	if n.USDCContract == n.USDTContract {
		t.Errorf("USDT and USDC share the contract %s", n.USDTContract)
	}

	var hs string
	if err := c.Call(ctx, "eth_blockNumber", &hs); err != nil {
		t.Fatal(err)
	}
	start, _ := new(big.Int).SetString(strings.TrimPrefix(hs, "0x"), 16)
	m, err := n.Mine(ctx, "eth", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Hashes) != 2 || m.Height < start.Int64()+2 || m.Hashes[0] == m.Hashes[1] || len(m.Hashes[1]) != 66 {
		t.Errorf("mined %+v from %d", m, start)
	}
}

// TestPaySidechain pays the sidechain's coin and its USDT (minting first)
// on geth2, waits for its blocks, and checks nothing moved on geth: the
// currency code routes the payment to its chain's node.
func TestPaySidechain(t *testing.T) {
	n := testNodes(t)
	side := n.EVM[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sc, err := jsonrpc.New(side.RPC)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := n.ethNode().client()
	if err != nil {
		t.Fatal(err)
	}
	to, err := n.NewAddress(ctx, "SIDECHAIN")
	if err != nil {
		t.Fatal(err)
	}
	h, err := n.Pay(ctx, "side_sidechain", to, "1.000000000000000007")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := WaitReceipt(ctx, side.RPC, h); err != nil || r.Status != 1 || r.From != side.DevAccount {
		t.Fatalf("receipt of %s on the sidechain: %+v, %v", h, r, err)
	}
	if got := ethBalance(ctx, t, sc, to); got.String() != "1000000000000000007" {
		t.Errorf("%s holds %s wei on the sidechain, want 1000000000000000007", to, got)
	}
	if got := ethBalance(ctx, t, ec, to); got.Sign() != 0 {
		t.Errorf("%s holds %s wei on geth: the payment went to the wrong chain", to, got)
	}

	usdt := side.Tokens[0].Contract
	bal, err := BalanceOf(ctx, side.RPC, usdt, side.DevAccount)
	if err != nil {
		t.Fatal(err)
	}
	want := new(big.Int).Add(bal, big.NewInt(2_000_001)) // more than the dev account holds: mints first
	h, err = n.Pay(ctx, "USDT_SIDECHAIN", to, amount.Format(want, 6))
	if err != nil {
		t.Fatal(err)
	}
	r, err := WaitReceipt(ctx, side.RPC, h)
	if err != nil {
		t.Fatal(err)
	}
	checkTransferLog(t, r, usdt, side.DevAccount, to, want.Int64())
	if got := tokenBalance(ctx, t, side.RPC, usdt, to); got != want.Int64() {
		t.Errorf("%s holds %d USDT_SIDECHAIN units, want %s", to, got, want)
	}
	var onGeth json.RawMessage
	if err := ec.Call(ctx, "eth_getTransactionByHash", &onGeth, h); err != nil || string(onGeth) != "null" {
		t.Errorf("the sidechain's transaction %s on geth: %s, %v", h, onGeth, err)
	}

	m, err := n.Mine(ctx, "sidechain", 2)
	if err != nil || len(m.Hashes) != 2 || m.Hashes[0] == m.Hashes[1] {
		t.Fatalf("mine sidechain: %+v, %v", m, err)
	}
	var b struct {
		Hash string `json:"hash"`
	}
	if err := sc.Call(ctx, "eth_getBlockByNumber", &b, "0x"+big.NewInt(m.Height).Text(16), false); err != nil || b.Hash != m.Hashes[1] {
		t.Errorf("sidechain block %d is %s, mined %s: %v", m.Height, b.Hash, m.Hashes[1], err)
	}

	// a node of another chain id is refused before anything is sent
	wrong := n
	wrong.EVM = []EVMChain{side}
	wrong.EVM[0].RPC = n.ETHRPC
	if _, err := wrong.Pay(ctx, "SIDE_SIDECHAIN", to, "1"); err == nil || !strings.Contains(err.Error(), "reports chain id 1337, not sidechain's 1338") {
		t.Errorf("pay on a node of another chain: %v", err)
	}
}

// TestEVMChainCurrencies: a chains.evm chain's coin and tokens are
// SYMBOL_KEY, routed to its chain; its key is a chain for mine and address;
// unknown codes list them.
func TestEVMChainCurrencies(t *testing.T) {
	n := Nodes{USDTContract: addrA, EVM: []EVMChain{{Key: "sidechain", Native: Token{Symbol: "SIDE", Decimals: 18},
		Tokens: []Token{{Symbol: "USDT", Decimals: 6, Contract: addrB}}}}}
	for _, c := range []struct {
		code, want, chain, contract string
		decimals                    int
		token                       bool
	}{
		{"side_sidechain", "SIDE_SIDECHAIN", "sidechain", "", 18, false},
		{" USDT_SIDECHAIN", "USDT_SIDECHAIN", "sidechain", addrB, 6, true},
		{"usdt", "USDT", "eth", addrA, 6, true},
		{"ETH", "ETH", "eth", "", 18, false},
	} {
		cur, contract, err := n.Currency(c.code)
		if err != nil || cur.Code != c.want || cur.Chain != c.chain || contract != c.contract || cur.Decimals != c.decimals || cur.Token != c.token {
			t.Errorf("Currency(%q) = %+v %q, %v", c.code, cur, contract, err)
		}
	}
	if _, _, err := n.Currency("SIDE"); err == nil || !strings.Contains(err.Error(), "SIDE_SIDECHAIN, USDT_SIDECHAIN") {
		t.Errorf("Currency(SIDE): %v", err)
	}
	if _, err := n.checkChain("SideChain"); err != nil {
		t.Error(err)
	}
	if _, err := (Nodes{}).checkChain("sidechain"); err == nil {
		t.Error("sidechain is a chain without n.EVM")
	}
	if a, err := n.NewAddress(context.Background(), "sidechain"); err != nil || n.ValidateAddress("sidechain", a) != nil {
		t.Errorf("sidechain address %q, %v", a, err)
	}
	if err := n.ValidateAddress("sidechain", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"); err == nil {
		t.Error("a bitcoin address taken on the sidechain")
	}
	// amounts are the chain's decimals, exactly
	if _, err := n.Pay(context.Background(), "USDT_SIDECHAIN", addrB, "0.0000001"); err == nil || !strings.Contains(err.Error(), "decimal places") {
		t.Errorf("7 decimal places of USDT_SIDECHAIN: %v", err)
	}
}

// TestNodeDown: a node that is not there is ErrNodeDown, before anything is sent.
func TestNodeDown(t *testing.T) {
	n := Nodes{BTCRPC: "http://u:p@127.0.0.1:1", BTCMiningKey: "00", LTCRPC: "http://u:p@127.0.0.1:1", LTCWallet: "w",
		ETHRPC: "http://127.0.0.1:1", ETHDevAccount: addrA, USDTContract: addrA, USDCContract: addrA,
		EVM: []EVMChain{{Key: "sidechain", ChainID: 1338, RPC: "http://127.0.0.1:1", DevAccount: addrA,
			Native: Token{Symbol: "SIDE", Decimals: 18}, Tokens: []Token{{Symbol: "USDT", Decimals: 6, Contract: addrA}}}}}
	ctx := context.Background()
	for _, c := range []struct{ cur, to string }{
		{"BTC", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"},
		{"LTC", "rltc1qzw8ltpua7yagxryyqnxre0cz40syp9kear4m5u"},
		{"ETH", strings.ToLower(addrB)}, {"USDT", strings.ToLower(addrB)}, {"USDC", strings.ToLower(addrB)},
		{"SIDE_SIDECHAIN", strings.ToLower(addrB)}, {"USDT_SIDECHAIN", strings.ToLower(addrB)},
	} {
		if _, err := n.Pay(ctx, c.cur, c.to, "1"); !errors.Is(err, ErrNodeDown) {
			t.Errorf("pay %s: %v, want ErrNodeDown", c.cur, err)
		}
	}
	for _, chain := range n.chains() {
		if _, err := n.Mine(ctx, chain, 1); !errors.Is(err, ErrNodeDown) {
			t.Errorf("mine %s: %v, want ErrNodeDown", chain, err)
		}
	}
	if _, err := n.NewAddress(ctx, "ltc"); !errors.Is(err, ErrNodeDown) {
		t.Errorf("ltc address: %v, want ErrNodeDown", err)
	}
	// Bad input fails before any node is asked.
	for _, c := range []struct{ cur, to, amount, err string }{
		{"BTC", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "0.000000001", "decimal places"},
		{"LTC", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "1", "destination"},
		{"XRP", addrB, "1", "unknown currency"},
		{"ETH", addrB, "0", "zero"},
	} {
		if _, err := n.Pay(ctx, c.cur, c.to, c.amount); err == nil || errors.Is(err, ErrNodeDown) || !strings.Contains(err.Error(), c.err) {
			t.Errorf("pay %s %s %s: %v, want %q", c.cur, c.amount, c.to, err, c.err)
		}
	}
	if _, err := n.Mine(ctx, "btc", MaxMine+1); err == nil || errors.Is(err, ErrNodeDown) {
		t.Errorf("mine %d: %v", MaxMine+1, err)
	}
}
