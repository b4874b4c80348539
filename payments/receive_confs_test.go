package payments

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluicepay/sluice/indexer"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/stores"
)

// TestReceiveConfirmations: a payment to a litepay receive address is
// confirmed (and so forwarded) at ReceiveConfirmations (1, as litepay's
// spec), while the same merchant's iqpay wallet waits for its own count.
func TestReceiveConfirmations(t *testing.T) {
	l, _ := newLedger(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rd, err := stores.OpenRedis(strings.TrimSuffix(testenv.Get(t, "SLUICE_REDIS_URL"), "/0") + "/12")
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	rd.FlushDB(ctx)
	m, err := l.CreateMerchant(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	iq, _, err := l.WalletFor(ctx, m.ID, "LTC", "customer")
	if err != nil {
		t.Fatal(err)
	}
	recv, _, err := l.WalletFor(ctx, m.ID, "LTC", "receive-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.DB.Exec(ctx, `INSERT INTO receive_addresses (wallet_id, destination, callback_url, callback_req, fee_percent)
		VALUES ($1, 'rltc1qdest', '', false, 0.01)`, recv.ID); err != nil {
		t.Fatal(err)
	}
	c := &Consumer{Ledger: l, Redis: rd, Chain: "ltc", Name: "t", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() { _ = c.Run(ctx) }()
	pub := indexer.RedisPublisher{Client: rd}
	if err := pub.Publish(ctx, "ltc", []indexer.Event{{Kind: "connected", Height: 10, Hash: "h10", Credits: []indexer.Credit{
		{Address: iq.Address, Currency: "LTC", TxID: "aa", Position: "vout:0", Amount: "5000", From: "payer"},
		{Address: recv.Address, Currency: "LTC", TxID: "bb", Position: "vout:0", Amount: "7000", From: "payer"},
	}}}); err != nil {
		t.Fatal(err)
	}
	status := func(txid string) (s int) {
		_ = l.DB.QueryRow(ctx, "SELECT status FROM deposits WHERE txid = $1", txid).Scan(&s)
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for status("bb") != 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if s := status("bb"); s != 1 {
		t.Fatalf("the receive address's payment at 1 confirmation: status %d, want 1", s)
	}
	if s := status("aa"); s != 0 {
		t.Fatalf("the iqpay wallet's payment at 1 confirmation: status %d, want 0 (LTC needs 6)", s)
	}
}
