package devnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sluicepay/sluice/contracts"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
)

// selDecimals is decimals(); TestSelectors checks it.
const selDecimals uint32 = 0x313ce567

func freshAddress(t *testing.T) string {
	t.Helper()
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "0x" + hex.EncodeToString(b)
}

// topicAddr is an address as an indexed-event topic.
func topicAddr(a string) string {
	return "0x" + strings.Repeat("0", 24) + strings.TrimPrefix(strings.ToLower(a), "0x")
}

// checkTransferLog checks that r has exactly one log, a Transfer(from, to, value) emitted by token.
func checkTransferLog(t *testing.T, r Receipt, token, from, to string, value int64) {
	t.Helper()
	if len(r.Logs) != 1 {
		t.Fatalf("receipt of %s has %d logs, want exactly one Transfer: %+v", r.TxHash, len(r.Logs), r.Logs)
	}
	l := r.Logs[0]
	if l.Address != strings.ToLower(token) {
		t.Errorf("Transfer emitted by %s, want the token %s", l.Address, token)
	}
	want := []string{TransferTopic, topicAddr(from), topicAddr(to)}
	if strings.Join(l.Topics, ",") != strings.Join(want, ",") {
		t.Errorf("Transfer topics\n got %v\nwant %v", l.Topics, want)
	}
	if l.Data != "0x"+word(uint64(value)) {
		t.Errorf("Transfer data %s, want value %d", l.Data, value)
	}
}

type rpcTx struct {
	To    string `json:"to"`
	Value string `json:"value"`
}

func getTx(ctx context.Context, t *testing.T, c *jsonrpc.Client, hash string) rpcTx {
	t.Helper()
	var tx rpcTx
	if err := c.Call(ctx, "eth_getTransactionByHash", &tx, hash); err != nil {
		t.Fatal(err)
	}
	tx.To = strings.ToLower(tx.To)
	return tx
}

func ethBalance(ctx context.Context, t *testing.T, c *jsonrpc.Client, addr string) *big.Int {
	t.Helper()
	var s string
	if err := c.Call(ctx, "eth_getBalance", &s, addr, "latest"); err != nil {
		t.Fatal(err)
	}
	v, ok := new(big.Int).SetString(strings.TrimPrefix(s, "0x"), 16)
	if !ok {
		t.Fatalf("balance of %s: %q", addr, s)
	}
	return v
}

func tokenBalance(ctx context.Context, t *testing.T, rpc, token, holder string) int64 {
	t.Helper()
	v, err := BalanceOf(ctx, rpc, token, holder)
	if err != nil {
		t.Fatal(err)
	}
	return v.Int64()
}

// TestDevnet deploys both contracts on the test stack's geth and drives every
// call, checking what an indexer would see.
func TestDevnet(t *testing.T) {
	rpc := testenv.Get(t, "SLUICE_ETH_RPC")
	dev := strings.ToLower(testenv.Get(t, "SLUICE_ETH_DEV_ACCOUNT"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := jsonrpc.New(rpc)
	if err != nil {
		t.Fatal(err)
	}

	tokR, err := Deploy(ctx, rpc, dev, contracts.TetherToken)
	if err != nil {
		t.Fatal(err)
	}
	fwdR, err := Deploy(ctx, rpc, dev, contracts.Forwarder)
	if err != nil {
		t.Fatal(err)
	}
	token, fwd := tokR.ContractAddress, fwdR.ContractAddress
	t.Logf("TetherToken %s: deploy gas %d; Forwarder %s: deploy gas %d", token, tokR.GasUsed, fwd, fwdR.GasUsed)
	if tokR.Status != 1 || tokR.To != "" || tokR.From != dev {
		t.Errorf("deploy receipt %+v", tokR)
	}

	var dec string
	if err := c.Call(ctx, "eth_call", &dec, map[string]string{"to": token, "data": hexData(calldata(selDecimals))}, "latest"); err != nil {
		t.Fatal(err)
	}
	if dec != "0x"+word(6) {
		t.Errorf("decimals() = %s, want 6", dec)
	}

	t.Run("mint and transfer", func(t *testing.T) {
		h, err := Mint(ctx, rpc, dev, token, dev, big.NewInt(1_000_000_000))
		if err != nil {
			t.Fatal(err)
		}
		r, err := WaitReceipt(ctx, rpc, h)
		if err != nil {
			t.Fatal(err)
		}
		checkTransferLog(t, r, token, "0x"+strings.Repeat("0", 40), dev, 1_000_000_000)
		t.Logf("mint gas %d", r.GasUsed)

		alice := freshAddress(t)
		// The USDT quirk: transfer succeeds and returns no data at all.
		data, err := TransferCalldata(alice, big.NewInt(1))
		if err != nil {
			t.Fatal(err)
		}
		var ret string
		if err := c.Call(ctx, "eth_call", &ret, map[string]string{"from": dev, "to": token, "data": hexData(data)}, "latest"); err != nil {
			t.Fatal(err)
		}
		if ret != "0x" {
			t.Errorf("eth_call transfer returned %s, want empty data (no bool, like USDT)", ret)
		}

		h, err = TransferToken(ctx, rpc, dev, token, alice, big.NewInt(1_234_567))
		if err != nil {
			t.Fatal(err)
		}
		r, err = WaitReceipt(ctx, rpc, h)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 1 || r.To != token || r.BlockHash == "" || r.BlockNumber == 0 {
			t.Errorf("transfer receipt %+v", r)
		}
		checkTransferLog(t, r, token, dev, alice, 1_234_567)
		t.Logf("transfer gas %d", r.GasUsed)
		if got := tokenBalance(ctx, t, rpc, token, alice); got != 1_234_567 {
			t.Errorf("alice holds %d, want 1234567", got)
		}

		// More than the balance: geth's gas estimate hits the revert, with its reason.
		_, err = TransferToken(ctx, rpc, dev, token, alice, big.NewInt(1_000_000_001))
		if err == nil || !strings.Contains(err.Error(), "exceeds balance") {
			t.Errorf("overdrawn transfer: err = %v, want the revert reason", err)
		}
	})

	t.Run("forward ETH", func(t *testing.T) {
		bob := freshAddress(t)
		wei := big.NewInt(1_234_000_000_000_000)
		h, err := Forward(ctx, rpc, dev, fwd, bob, wei)
		if err != nil {
			t.Fatal(err)
		}
		if got := ethBalance(ctx, t, c, bob); got.Cmp(wei) != 0 {
			t.Errorf("bob has %s wei, want %s", got, wei)
		}
		if tx := getTx(ctx, t, c, h); tx.To != fwd {
			t.Errorf("forward tx to = %s, want the forwarder %s", tx.To, fwd)
		}
		if got := ethBalance(ctx, t, c, fwd); got.Sign() != 0 {
			t.Errorf("forwarder kept %s wei", got)
		}
		r, err := WaitReceipt(ctx, rpc, h)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Logs) != 0 {
			t.Errorf("forward emitted %d logs, want none", len(r.Logs))
		}
		t.Logf("forward gas %d", r.GasUsed)

		carol, dave := freshAddress(t), freshAddress(t)
		h, err = ForwardBatch(ctx, rpc, dev, fwd, []string{carol, dave}, []*big.Int{big.NewInt(111), big.NewInt(222)})
		if err != nil {
			t.Fatal(err)
		}
		if tx := getTx(ctx, t, c, h); tx.To != fwd || tx.Value != "0x14d" {
			t.Errorf("forwardBatch tx %+v, want to %s value 0x14d", tx, fwd)
		}
		if a, b := ethBalance(ctx, t, c, carol), ethBalance(ctx, t, c, dave); a.Int64() != 111 || b.Int64() != 222 {
			t.Errorf("batch balances %s, %s; want 111, 222", a, b)
		}
	})

	t.Run("forward token", func(t *testing.T) {
		if _, err := Mint(ctx, rpc, dev, token, fwd, big.NewInt(5_000_000)); err != nil {
			t.Fatal(err)
		}
		erin := freshAddress(t)
		h, err := ForwardToken(ctx, rpc, dev, fwd, token, erin, big.NewInt(2_000_000))
		if err != nil {
			t.Fatal(err)
		}
		r, err := WaitReceipt(ctx, rpc, h)
		if err != nil {
			t.Fatal(err)
		}
		if r.To != fwd {
			t.Errorf("forwardToken receipt to = %s, want the forwarder %s", r.To, fwd)
		}
		if tx := getTx(ctx, t, c, h); tx.To != fwd {
			t.Errorf("forwardToken tx to = %s, want the forwarder %s", tx.To, fwd)
		}
		// The log's emitter is the token, though the transaction went to the forwarder.
		checkTransferLog(t, r, token, fwd, erin, 2_000_000)
		t.Logf("forwardToken gas %d", r.GasUsed)
		if a, b := tokenBalance(ctx, t, rpc, token, erin), tokenBalance(ctx, t, rpc, token, fwd); a != 2_000_000 || b != 3_000_000 {
			t.Errorf("balances erin %d, forwarder %d; want 2000000, 3000000", a, b)
		}
		_, err = ForwardToken(ctx, rpc, dev, fwd, token, erin, big.NewInt(3_000_001))
		if err == nil || !strings.Contains(err.Error(), "token transfer failed") {
			t.Errorf("overdrawn forwardToken: err = %v, want the revert reason", err)
		}
	})

	t.Run("USDC returns true", func(t *testing.T) {
		usdcR, err := Deploy(ctx, rpc, dev, contracts.USDCToken)
		if err != nil {
			t.Fatal(err)
		}
		usdc := usdcR.ContractAddress
		t.Logf("USDCToken %s: deploy gas %d", usdc, usdcR.GasUsed)
		var dec string
		if err := c.Call(ctx, "eth_call", &dec, map[string]string{"to": usdc, "data": hexData(calldata(selDecimals))}, "latest"); err != nil {
			t.Fatal(err)
		}
		if dec != "0x"+word(6) {
			t.Errorf("USDC decimals() = %s, want 6", dec)
		}
		h, err := Mint(ctx, rpc, dev, usdc, dev, big.NewInt(2_000_000))
		if err != nil {
			t.Fatal(err)
		}
		r, err := WaitReceipt(ctx, rpc, h)
		if err != nil {
			t.Fatal(err)
		}
		checkTransferLog(t, r, usdc, "0x"+strings.Repeat("0", 40), dev, 2_000_000)
		t.Logf("USDC mint gas %d", r.GasUsed)

		frank := freshAddress(t)
		data, err := TransferCalldata(frank, big.NewInt(1))
		if err != nil {
			t.Fatal(err)
		}
		var ret string
		if err := c.Call(ctx, "eth_call", &ret, map[string]string{"from": dev, "to": usdc, "data": hexData(data)}, "latest"); err != nil {
			t.Fatal(err)
		}
		if ret != "0x"+word(1) {
			t.Errorf("eth_call transfer returned %s, want true (one word 1, like USDC)", ret)
		}
		h, err = TransferToken(ctx, rpc, dev, usdc, frank, big.NewInt(1_999_999))
		if err != nil {
			t.Fatal(err)
		}
		r, err = WaitReceipt(ctx, rpc, h)
		if err != nil {
			t.Fatal(err)
		}
		checkTransferLog(t, r, usdc, dev, frank, 1_999_999)
		t.Logf("USDC transfer gas %d", r.GasUsed)
		if a, b := tokenBalance(ctx, t, rpc, usdc, frank), tokenBalance(ctx, t, rpc, usdc, dev); a != 1_999_999 || b != 1 {
			t.Errorf("balances frank %d, dev %d; want 1999999, 1", a, b)
		}
		// Overdrawn: the simulated call reverts with the reason, nothing is sent.
		_, err = TransferToken(ctx, rpc, dev, usdc, frank, big.NewInt(2))
		if err == nil || !strings.Contains(err.Error(), "exceeds balance") {
			t.Errorf("overdrawn USDC transfer: err = %v, want the revert reason", err)
		}

		// DeployedAt tells the contracts apart by their code.
		for _, c := range []struct {
			addr, name string
			want       bool
		}{{usdc, contracts.USDCToken, true}, {usdc, contracts.TetherToken, false}, {token, contracts.TetherToken, true},
			{fwd, contracts.Forwarder, true}, {fwd, contracts.USDCToken, false}, {freshAddress(t), contracts.USDCToken, false}} {
			if ok, err := DeployedAt(ctx, rpc, dev, c.addr, c.name); err != nil || ok != c.want {
				t.Errorf("DeployedAt(%s, %s) = %v, %v; want %v", c.addr, c.name, ok, err, c.want)
			}
		}
		// The Forwarder's owner is immutable: deployed by another account it is other code.
		if ok, err := DeployedAt(ctx, rpc, freshAddress(t), fwd, contracts.Forwarder); err != nil || ok {
			t.Errorf("DeployedAt(forwarder, as another deployer) = %v, %v; want false", ok, err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		if _, err := DeployToken(ctx, rpc, "0xnot-an-address"); err == nil {
			t.Error("deploy from a bad address succeeded")
		}
		if _, err := Mint(ctx, rpc, dev, token, dev, big.NewInt(-1)); err == nil {
			t.Error("mint of -1 succeeded")
		}
		if ok, err := HasCode(ctx, rpc, freshAddress(t)); err != nil || ok {
			t.Errorf("HasCode(fresh) = %v, %v", ok, err)
		}
		if ok, err := HasCode(ctx, rpc, token); err != nil || !ok {
			t.Errorf("HasCode(token) = %v, %v", ok, err)
		}
		short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		if _, err := WaitReceipt(short, rpc, "0x"+strings.Repeat("ab", 32)); err == nil {
			t.Error("WaitReceipt of an unknown hash returned")
		}
	})
}

func TestDeployHelpers(t *testing.T) {
	rpc := testenv.Get(t, "SLUICE_ETH_RPC")
	dev := testenv.Get(t, "SLUICE_ETH_DEV_ACCOUNT")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for name, deploy := range map[string]func(context.Context, string, string) (string, error){
		"DeployToken": DeployToken, "DeployUSDC": DeployUSDC, "DeployForwarder": DeployForwarder,
	} {
		addr, err := deploy(ctx, rpc, dev)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ok, err := HasCode(ctx, rpc, addr); err != nil || !ok {
			t.Errorf("%s: no code at %s (%v)", name, addr, err)
		}
	}
}
