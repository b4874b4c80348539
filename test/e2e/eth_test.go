package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sluicepay/sluice/devnet"
	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
)

func freshAddress() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return "0x" + hex.EncodeToString(b)
}

// ethRows counts canonical rows of table matching where (with args).
func (ie *indexEnv) ethRows(t *testing.T, table, where string, args ...any) uint64 {
	t.Helper()
	var n uint64
	q := "SELECT count() FROM " + table + " WHERE " + where + " AND " + store.CanonicalFilter
	if err := ie.ch.QueryRow(context.Background(), q, append(args, "eth", "eth", "eth")...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestEthIndexFollowsGeth: on the stack's geth, a plain ETH payment, a
// devnet-USDT transfer (whose transfer() returns nothing, like mainnet
// USDT's), a token transfer made from inside a contract, and ETH forwarded
// from inside a contract call all reach ClickHouse.
func TestEthIndexFollowsGeth(t *testing.T) {
	rpcURL := testenv.Get(t, "SLUICE_ETH_RPC")
	dev := testenv.Get(t, "SLUICE_ETH_DEV_ACCOUNT")
	usdt := testenv.Get(t, "SLUICE_USDT_CONTRACT")
	fwd := testenv.Get(t, "SLUICE_ETH_FORWARDER")
	ctx := context.Background()
	c, err := jsonrpc.New(rpcURL)
	if err != nil {
		t.Fatal(err)
	}
	ie := newIndexEnv(t)
	p := ie.start(t, []string{"SLUICE_ETH_TRACES=true"}, "--chain", "eth")
	var head string
	if err := c.Call(ctx, "eth_blockNumber", &head); err != nil {
		t.Fatal(err)
	}
	top, _ := new(big.Int).SetString(strings.TrimPrefix(head, "0x"), 16)
	waitFor(t, "catch-up", 120*time.Second, func() bool { return ie.checkpoint(t, "eth") >= top.Int64() })

	alice, bob, carol := freshAddress(), freshAddress(), freshAddress()
	var ethTx string
	if err := c.Call(ctx, "eth_sendTransaction", &ethTx, map[string]any{"from": dev, "to": alice, "value": "0xde0b6b3a7640000"}); err != nil {
		t.Fatal(err)
	}
	if _, err := devnet.WaitReceipt(ctx, rpcURL, ethTx); err != nil {
		t.Fatal(err)
	}
	mined := time.Now()
	waitFor(t, "the ETH payment in ClickHouse", 30*time.Second, func() bool {
		return ie.ethRows(t, "eth_transactions", "hash = ? AND to_address = ? AND value = '1000000000000000000' AND status = 1", ethTx, alice) == 1
	})
	t.Logf("eth: payment mined -> visible in ClickHouse in %s", time.Since(mined).Round(time.Millisecond))

	amount := big.NewInt(12_345_678) // 12.345678 USDT
	if _, err := devnet.Mint(ctx, rpcURL, dev, usdt, dev, big.NewInt(1_000_000_000)); err != nil {
		t.Fatal(err)
	}
	tokTx, err := devnet.TransferToken(ctx, rpcURL, dev, usdt, bob, amount)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the USDT transfer in ClickHouse", 30*time.Second, func() bool {
		return ie.ethRows(t, "token_transfers", "tx_hash = ? AND token = ? AND to_address = ? AND value = '12345678'", tokTx, strings.ToLower(usdt), bob) == 1
	})

	// tokens held by the forwarder, sent on from inside its call
	if _, err := devnet.Mint(ctx, rpcURL, dev, usdt, fwd, big.NewInt(5_000_000)); err != nil {
		t.Fatal(err)
	}
	innerTok, err := devnet.ForwardToken(ctx, rpcURL, dev, fwd, usdt, carol, big.NewInt(4_000_000))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the forwarded USDT in ClickHouse", 30*time.Second, func() bool {
		return ie.ethRows(t, "token_transfers", "tx_hash = ? AND from_address = ? AND to_address = ? AND value = '4000000'", innerTok, strings.ToLower(fwd), carol) == 1
	})

	// ETH moved inside a contract call: the tx goes to the forwarder, the value to carol
	inner, err := devnet.Forward(ctx, rpcURL, dev, fwd, carol, big.NewInt(777_000_000_000))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the internal ETH transfer in ClickHouse", 30*time.Second, func() bool {
		return ie.ethRows(t, "internal_transfers", "tx_hash = ? AND to_address = ? AND value = '777000000000'", inner, carol) == 1
	})
	// and carol's address history has both credits
	if n := ie.ethRows(t, "eth_address_transfers", "address = ? AND direction = 1", carol); n != 2 {
		t.Errorf("carol's credits in eth_address_transfers: %d, want 2", n)
	}
	if !strings.Contains(p.stderr.String(), "newHeads subscribed") {
		t.Error("eth should be woken by the newHeads subscription")
	}
}
