package payments

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicepay/sluice/indexer/ethereum"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/jsonrpc"
)

// TestNonceConflictsAgainstGeth: on the stack's geth, a transaction whose
// sender's nonce was used as of a block counts as replaced; one whose nonce
// is still free (or was free at an earlier block) does not.
func TestNonceConflictsAgainstGeth(t *testing.T) {
	ctx := context.Background()
	url, dev := testenv.Get(t, "SLUICE_ETH_RPC"), testenv.Get(t, "SLUICE_ETH_DEV_ACCOUNT")
	node, err := ethereum.Dial(ctx, "eth", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	// one transaction of the dev account, so its nonce 0 is used for sure
	c, _ := jsonrpc.New(url)
	var h string
	if err := c.Call(ctx, "eth_sendTransaction", &h, map[string]any{"from": dev, "to": dev, "value": "0x1"}); err != nil {
		t.Fatal(err)
	}
	var head uint64
	for i := 0; i < 100; i++ {
		var rcpt map[string]any
		if err := c.Call(ctx, "eth_getTransactionReceipt", &rcpt, h); err == nil && rcpt != nil {
			break
		}
		if i == 99 {
			t.Fatal("the transaction was not mined")
		}
		sleep(ctx, 100*time.Millisecond)
	}
	head, _, err = node.Head(ctx, "latest")
	if err != nil {
		t.Fatal(err)
	}
	used, err := node.NonceAt(ctx, dev, head)
	if err != nil || used == 0 {
		t.Fatalf("nonce of the dev account %d (%v)", used, err)
	}
	nc := NonceConflicts{NonceAt: node.NonceAt}
	zero, free := uint64(0), used
	by, found, err := nc.Conflict(ctx, Orphan{TxID: "0xgone", Sender: dev, Nonce: &zero}, int64(head))
	if err != nil || !found || !strings.Contains(by, "nonce 0 of "+dev) {
		t.Fatalf("nonce 0 at the head: %q %v %v", by, found, err)
	}
	if _, found, err := nc.Conflict(ctx, Orphan{TxID: "0xnew", Sender: dev, Nonce: &free}, int64(head)); err != nil || found {
		t.Fatalf("a free nonce counts as replaced: %v %v", found, err)
	}
	if _, found, err := nc.Conflict(ctx, Orphan{TxID: "0xold", Sender: dev, Nonce: &zero}, 0); err != nil || found {
		t.Fatalf("nonce 0 was free at genesis: %v %v", found, err)
	}
	if _, found, err := nc.Conflict(ctx, Orphan{TxID: "0xbtc"}, int64(head)); err != nil || found {
		t.Fatalf("no sender: %v %v", found, err)
	}
}
