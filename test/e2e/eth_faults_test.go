package e2e

import (
	"context"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicepay/sluice/devnet"
	"github.com/sluicepay/sluice/indexer/ethereum"
	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
)

func ethHead(t *testing.T, c *jsonrpc.Client) int64 {
	t.Helper()
	var head string
	if err := c.Call(context.Background(), "eth_blockNumber", &head); err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(head, "0x"), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// transferTopicLog1 is init code that emits one log with the ERC-20 Transfer
// topic as its only topic (and a 32-byte data word): a Transfer log of the
// wrong shape, as odd tokens emit. PUSH32 topic, PUSH1 32, PUSH1 0, LOG1, STOP.
const transferTopicLog1 = "0x7f" + "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef" + "60206000a100"

func TestEthMalformedTransferLog(t *testing.T) {
	rpcURL := testenv.Get(t, "SLUICE_ETH_RPC")
	dev := testenv.Get(t, "SLUICE_ETH_DEV_ACCOUNT")
	c, _ := jsonrpc.New(rpcURL)
	ie := newIndexEnv(t)
	metrics := deadPort(t)
	p := ie.start(t, nil, "--chain", "eth", "--metrics-listen", metrics)
	top := ethHead(t, c)
	waitFor(t, "catch-up", 120*time.Second, func() bool { return ie.checkpoint(t, "eth") >= top })

	var tx string
	if err := c.Call(context.Background(), "eth_sendTransaction", &tx, map[string]any{"from": dev, "data": transferTopicLog1, "gas": "0x30000"}); err != nil {
		t.Fatal(err)
	}
	r, err := devnet.WaitReceipt(context.Background(), rpcURL, tx)
	if err != nil || len(r.Logs) != 1 {
		t.Fatalf("receipt %+v, %v", r, err)
	}
	waitFor(t, "the malformed log in transfer_logs_unparsed", 30*time.Second, func() bool {
		return ie.ethRows(t, "transfer_logs_unparsed", "tx_hash = ? AND length(topics) = 1", tx) == 1
	})
	if n := ie.ethRows(t, "token_transfers", "tx_hash = ?", tx); n != 0 {
		t.Fatalf("a 1-topic Transfer log became %d token transfers", n)
	}
	if v := metric(t, metrics, `sluice_eth_unparsed_transfer_logs_total{chain="eth"}`); v < 1 {
		t.Errorf("sluice_eth_unparsed_transfer_logs_total = %v", v)
	}
	if !strings.Contains(p.stderr.String(), "not the ERC-20 shape") {
		t.Errorf("no log line:\n%s", p.stderr.String())
	}
}

func TestEthKill9DuringCatchUp(t *testing.T) {
	c, _ := jsonrpc.New(testenv.Get(t, "SLUICE_ETH_RPC"))
	ie := newIndexEnv(t)
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	// one block per batch: the catch-up is slow enough for the kills to land in it
	if err := os.WriteFile(cfg, []byte("indexer:\n  batch_rows: 1\n  workers: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	extra := []string{"SLUICE_CONFIG=" + cfg}
	// geth --dev makes a block a second: a fresh stack may need a moment to have enough
	waitFor(t, "a chain of 80 blocks", 100*time.Second, func() bool { return ethHead(t, c) >= 80 })
	top := ethHead(t, c)
	var last int64 = -1
	for kill := 1; kill <= 2; kill++ {
		p := ie.start(t, extra, "--chain", "eth")
		target := last + 10
		waitFor(t, "progress", 60*time.Second, func() bool { return ie.checkpoint(t, "eth") >= target })
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		last = ie.checkpoint(t, "eth")
		t.Logf("kill -9 #%d at checkpoint %d of %d", kill, last, top)
	}
	ie.start(t, extra, "--chain", "eth")
	waitFor(t, "catch-up after the kills", 120*time.Second, func() bool { return ie.checkpoint(t, "eth") >= ethHead(t, c)-1 })
	// the index equals geth's chain up to the checkpoint, without duplicates
	h := ie.checkpoint(t, "eth")
	got := ie.canonicalHashes(t, "eth")
	for i := int64(0); i <= h; i++ {
		var blk struct {
			Hash string `json:"hash"`
		}
		if err := c.Call(context.Background(), "eth_getBlockByNumber", &blk, "0x"+strconv.FormatInt(i, 16), false); err != nil {
			t.Fatal(err)
		}
		if got[i] != blk.Hash {
			t.Fatalf("height %d: index %s, geth %s", i, got[i], blk.Hash)
		}
	}
	var rows, uniq uint64
	if err := ie.ch.QueryRow(context.Background(), "SELECT count(), uniqExact(hash) FROM eth_transactions WHERE "+store.CanonicalFilter, "eth", "eth", "eth").Scan(&rows, &uniq); err != nil {
		t.Fatal(err)
	}
	if rows != uniq {
		t.Fatalf("eth_transactions: %d rows, %d distinct", rows, uniq)
	}
}

// TestEthNodeRestart runs a geth of its own, stops it under a running
// indexer (the WebSocket drops), and starts it again.
func TestEthNodeRestart(t *testing.T) {
	testenv.Get(t, "SLUICE_STACK_DIR")
	dir := t.TempDir()
	base := privateStackBase(t)
	args := []string{"--dir", dir, "--port-base", strconv.Itoa(base), "--services", "geth",
		"--bin-dir", filepath.Join(testenv.RepoRoot(t), "var", "bin")}
	if r := run(t, nil, append([]string{"stack", "up"}, args...)...); r.code != 0 {
		t.Fatalf("private geth: %s", r.stderr)
	}
	t.Cleanup(func() { run(t, nil, "stack", "down", "--dir", dir) })
	ws, rpcURL := envFrom(t, dir, "SLUICE_ETH_WS"), envFrom(t, dir, "SLUICE_ETH_RPC")
	c, _ := jsonrpc.New(rpcURL)

	ie := newIndexEnv(t)
	metrics := deadPort(t)
	p := ie.start(t, []string{"SLUICE_ETH_WS=" + ws, "SLUICE_ETH_RPC=" + rpcURL, "SLUICE_ETH_TRACES=true"}, "--chain", "eth", "--metrics-listen", metrics)
	waitFor(t, "catch-up", 60*time.Second, func() bool { return ie.checkpoint(t, "eth") >= ethHead(t, c)-1 })

	if r := run(t, nil, "stack", "down", "--dir", dir, "--services", "geth"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	waitFor(t, "the indexer to notice", 30*time.Second, func() bool {
		return metric(t, metrics, `sluice_index_up{chain="eth"}`) == 0
	})
	if r := run(t, nil, append([]string{"stack", "up"}, args...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	dev := envFrom(t, dir, "SLUICE_ETH_DEV_ACCOUNT")
	to := freshAddress()
	var tx string
	if err := c.Call(context.Background(), "eth_sendTransaction", &tx, map[string]any{"from": dev, "to": to, "value": "0x1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := devnet.WaitReceipt(context.Background(), rpcURL, tx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "recovery: the payment after the restart indexed", 60*time.Second, func() bool {
		return ie.ethRows(t, "eth_transactions", "hash = ? AND to_address = ?", tx, to) == 1
	})
	log := p.stderr.String()
	if !strings.Contains(log, "sync failed; retrying") || !strings.Contains(log, "newHeads subscription lost") {
		t.Errorf("log lacks the outage:\n%s", log)
	}
	waitFor(t, "the subscription back", 30*time.Second, func() bool {
		return strings.Count(p.stderr.String(), "newHeads subscribed") >= 2
	})
}

// TestDecodeEthBlockMatchesNode decodes a block of the stack's geth holding a
// devnet-USDT transfer, as `sluice decode eth-block` reads it from a file.
func TestDecodeEthBlockMatchesNode(t *testing.T) {
	rpcURL := testenv.Get(t, "SLUICE_ETH_RPC")
	dev := testenv.Get(t, "SLUICE_ETH_DEV_ACCOUNT")
	usdt := testenv.Get(t, "SLUICE_USDT_CONTRACT")
	ctx := context.Background()
	if _, err := devnet.Mint(ctx, rpcURL, dev, usdt, dev, big.NewInt(1_000_000)); err != nil {
		t.Fatal(err)
	}
	to := freshAddress()
	tx, err := devnet.TransferToken(ctx, rpcURL, dev, usdt, to, big.NewInt(424242))
	if err != nil {
		t.Fatal(err)
	}
	r, err := devnet.WaitReceipt(ctx, rpcURL, tx)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := jsonrpc.New(rpcURL)
	var block, receipts json.RawMessage
	if err := c.Call(ctx, "eth_getBlockByHash", &block, r.BlockHash, true); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctx, "eth_getBlockReceipts", &receipts, r.BlockHash); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "block.json")
	body, _ := json.Marshal(map[string]json.RawMessage{"block": block, "receipts": receipts})
	os.WriteFile(f, body, 0o644)
	res := run(t, nil, "decode", "eth-block", f)
	if res.code != 0 {
		t.Fatalf("decode eth-block: %s", res.stderr)
	}
	var out struct {
		Hash           string `json:"hash"`
		TokenTransfers []struct {
			Token, From, To, Value, TxHash string
			LogIndex                       uint32 `json:"log_index"`
		} `json:"token_transfers"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tt := range out.TokenTransfers {
		if strings.EqualFold(tt.Token, usdt) && tt.To == to && tt.Value == "424242" {
			found = true
		}
	}
	if out.Hash != r.BlockHash || !found {
		t.Fatalf("decoded %s, transfers %+v", out.Hash, out.TokenTransfers)
	}
	if _, err := ethereum.DecodeBlock(block, receipts); err != nil {
		t.Fatal(err)
	}
}
