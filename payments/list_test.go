package payments

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestListDeposits: the filters and both orders of the one deposit list the
// CLI (newest first) and the merchant API (oldest first after a cursor) use.
func TestListDeposits(t *testing.T) {
	l, _ := newLedger(t)
	ctx := context.Background()
	m, err := l.CreateMerchant(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	other, err := l.CreateMerchant(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := l.WalletFor(ctx, m.ID, "BTC", "alice")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := l.WalletFor(ctx, m.ID, "ETH", "bob")
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := l.WalletFor(ctx, other.ID, "BTC", "alice")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i, d := range []struct {
		w      Wallet
		amount string
		status int
	}{{a, "1000", 1}, {b, "123456789012345678901234567890", 0}, {a, "7", 2}, {o, "5", 1}, {b, "9", 1}} {
		var id int64
		if err := l.DB.QueryRow(ctx, `INSERT INTO deposits (wallet_id, chain, currency, txid, position, amount, from_address, block_height, confirmations, status)
			VALUES ($1, $2, $3, $4, 'vout:0', $5::numeric, 'payer', 100, 3, $6) RETURNING id`,
			d.w.ID, d.w.Chain, d.w.Currency, "tx"+string(rune('a'+i)), d.amount, d.status).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	got := func(f ListFilter) []int64 {
		t.Helper()
		rows, err := l.ListDeposits(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := []int64{}
		for _, r := range rows {
			out = append(out, r.ID)
		}
		return out
	}
	one, two := 1, 2
	for _, c := range []struct {
		name string
		f    ListFilter
		want []int64
	}{
		{"all, newest first", ListFilter{}, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"a merchant", ListFilter{MerchantID: m.ID}, []int64{ids[4], ids[2], ids[1], ids[0]}},
		{"oldest first", ListFilter{MerchantID: m.ID, Oldest: true}, []int64{ids[0], ids[1], ids[2], ids[4]}},
		{"after a cursor", ListFilter{MerchantID: m.ID, Oldest: true, After: ids[1], Limit: 1}, []int64{ids[2]}},
		{"currency", ListFilter{MerchantID: m.ID, Currency: "ETH"}, []int64{ids[4], ids[1]}},
		{"extId", ListFilter{MerchantID: m.ID, ExtID: "alice"}, []int64{ids[2], ids[0]}},
		{"extId of every merchant", ListFilter{ExtID: "alice"}, []int64{ids[3], ids[2], ids[0]}},
		{"address in another case", ListFilter{MerchantID: m.ID, Address: strings.ToLower(b.Address)}, []int64{ids[4], ids[1]}},
		{"wallet", ListFilter{MerchantID: m.ID, WalletID: a.ID}, []int64{ids[2], ids[0]}},
		{"another merchant's wallet", ListFilter{MerchantID: m.ID, WalletID: o.ID}, []int64{}},
		{"status", ListFilter{MerchantID: m.ID, Status: &one}, []int64{ids[4], ids[0]}},
		{"status failed", ListFilter{Status: &two}, []int64{ids[2]}},
		{"limit", ListFilter{Limit: 2}, []int64{ids[4], ids[3]}},
	} {
		if g := got(c.f); !equalIDs(g, c.want) {
			t.Errorf("%s: %v, want %v", c.name, g, c.want)
		}
	}
	rows, err := l.ListDeposits(ctx, ListFilter{WalletID: b.ID, Oldest: true})
	if err != nil || len(rows) != 2 {
		t.Fatalf("%+v %v", rows, err)
	}
	r := rows[0]
	if r.Amount != "123456789012345678901234567890" || r.MerchantID != m.ID || r.WalletID != b.ID || r.ExtID != "bob" ||
		r.Address != b.Address || r.Currency != "ETH" || r.TxID != "txb" || r.Position != "vout:0" || r.From != "payer" ||
		r.Confirmations != 3 || r.Status != 0 || r.BlockHeight == nil || *r.BlockHeight != 100 || r.CreatedAt.IsZero() || r.UpdatedAt.IsZero() {
		t.Fatalf("row %+v", r)
	}
	minus := -1
	if _, err := l.ListDeposits(ctx, ListFilter{Status: &minus}); err == nil {
		t.Fatal("a negative status is refused")
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWalletByAddressAndReceive: a merchant finds its own wallets by
// address in any case, never another's; a receive address carries its
// forwarding and, once expired, when.
func TestWalletByAddressAndReceive(t *testing.T) {
	l, _ := newLedger(t)
	ctx := context.Background()
	m, err := l.CreateMerchant(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	other, err := l.CreateMerchant(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	eth, _, err := l.WalletFor(ctx, m.ID, "ETH", "customer")
	if err != nil {
		t.Fatal(err)
	}
	w, err := l.WalletByAddress(ctx, m.ID, strings.ToLower(eth.Address))
	if err != nil || w.ID != eth.ID || w.Address != eth.Address || w.Currency != "ETH" || w.ExtID != "customer" || w.WatchOnly ||
		w.CreatedAt.IsZero() || w.Receive != nil {
		t.Fatalf("%+v %v", w, err)
	}
	if _, err := l.WalletByAddress(ctx, other.ID, eth.Address); !errors.Is(err, ErrNoWallet) {
		t.Fatalf("another merchant's wallet: %v", err)
	}
	if _, err := l.WalletByAddress(ctx, m.ID, "nowhere"); !errors.Is(err, ErrNoWallet) {
		t.Fatalf("no wallet: %v", err)
	}

	recv, err := l.NewReceiveAddress(ctx, m.ID, "LTC", Receive{Destination: "ltc1qdest", CallbackURL: "https://shop.example/cb", CallbackReq: true, FeePercent: "0.01"})
	if err != nil || recv.Address == "" || !strings.HasPrefix(recv.ExtID, "receive-") {
		t.Fatalf("%+v %v", recv, err)
	}
	again, err := l.NewReceiveAddress(ctx, m.ID, "LTC", Receive{Destination: "ltc1qdest", FeePercent: "0.01"})
	if err != nil || again.Address == recv.Address {
		t.Fatalf("each call gets a fresh address: %+v %v", again, err)
	}
	var cb, fee string
	var req bool
	if err := l.DB.QueryRow(ctx, "SELECT callback_url, callback_req, fee_percent::text FROM receive_addresses WHERE wallet_id = $1", recv.ID).
		Scan(&cb, &req, &fee); err != nil || cb != "https://shop.example/cb" || !req || fee != "0.0100" {
		t.Fatalf("stored %q %v %q %v", cb, req, fee, err)
	}
	w, err = l.WalletByAddress(ctx, m.ID, recv.Address)
	if err != nil || w.Receive == nil || w.Receive.Destination != "ltc1qdest" || w.Receive.ExpiredAt != nil {
		t.Fatalf("%+v %v", w, err)
	}
	if _, err := l.DB.Exec(ctx, "UPDATE receive_addresses SET expired_at = now() WHERE wallet_id = $1", recv.ID); err != nil {
		t.Fatal(err)
	}
	if w, err = l.WalletByAddress(ctx, m.ID, recv.Address); err != nil || w.Receive == nil || w.Receive.ExpiredAt == nil ||
		time.Since(*w.Receive.ExpiredAt) > time.Minute {
		t.Fatalf("expired: %+v %v", w, err)
	}
	if _, err := l.NewReceiveAddress(ctx, m.ID, "DOGE", Receive{Destination: "x", FeePercent: "0.01"}); !errors.Is(err, ErrUnknownCurrency) {
		t.Fatalf("DOGE: %v", err)
	}

	if own, err := l.Confirmations(ctx, m.ID); err != nil || len(own) != 0 {
		t.Fatalf("none set: %v %v", own, err)
	}
	if _, err := l.DB.Exec(ctx, "INSERT INTO merchant_confirmations (merchant_id, currency, confirmations) VALUES ($1, 'BTC', 2), ($1, 'ETH', 30)", m.ID); err != nil {
		t.Fatal(err)
	}
	if own, err := l.Confirmations(ctx, m.ID); err != nil || len(own) != 2 || own["BTC"] != 2 || own["ETH"] != 30 {
		t.Fatalf("set: %v %v", own, err)
	}
	if own, err := l.Confirmations(ctx, other.ID); err != nil || len(own) != 0 {
		t.Fatalf("another merchant's: %v %v", own, err)
	}
}
