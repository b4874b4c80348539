package e2e

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/sluicepay/sluice/payments"
	"github.com/sluicepay/sluice/payments/keys"
	"github.com/sluicepay/sluice/stores"
	"github.com/sluicepay/sluice/watch"
)

// TestLTCDepositLifecycle: a payment to a ledger wallet on the stack's
// litecoind becomes a deposit with the exact amount, moves through its
// confirmations to confirmed at 6, and each event is in the outbox once.
func TestLTCDepositLifecycle(t *testing.T) {
	n := nodeFor(t, "ltc")
	ie := newIndexEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	pg, err := stores.OpenPostgres(ctx, ie.pg)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	seed, err := keys.ParseSeed("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := watch.Open(ctx, ie.redis, "ltc", watch.Config{}) // the layout every sluice process uses
	if err != nil {
		t.Fatal(err)
	}
	l := &payments.Ledger{DB: pg, Keys: payments.SeedKeys{Seed: seed, Networks: map[string]string{"LTC": "regtest"}},
		Watch: func(ctx context.Context, w payments.Wallet) error { return ws.Add(ctx, w.Address) }}
	m, err := l.CreateMerchant(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := l.WalletFor(ctx, m.ID, "LTC", "customer-42")
	if err != nil {
		t.Fatal(err)
	}

	ie.start(t, nil, "--chain", "ltc")
	top := n.height(t)
	waitFor(t, "catch-up", 60*time.Second, func() bool { return ie.checkpoint(t, "ltc") >= top })
	c := &payments.Consumer{Ledger: l, Redis: ie.redis, Chain: "ltc", Name: "test", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() { _ = c.Run(ctx) }()

	var txid string
	if err := n.rpc.Call(ctx, "sendtoaddress", &txid, w.Address, 1.23456789); err != nil {
		t.Fatal(err)
	}
	n.mine(t, 1)
	type dep struct {
		amount        string
		confs, status int
	}
	get := func() (d dep, ok bool) {
		err := pg.QueryRow(ctx, "SELECT amount::text, confirmations, status FROM deposits WHERE txid = $1", txid).Scan(&d.amount, &d.confs, &d.status)
		return d, err == nil
	}
	waitFor(t, "the deposit", 30*time.Second, func() bool { _, ok := get(); return ok })
	if d, _ := get(); d.amount != "123456789" || d.status != 0 {
		t.Fatalf("deposit %+v", d)
	}
	n.mine(t, 5)
	waitFor(t, "6 confirmations", 30*time.Second, func() bool { d, _ := get(); return d.status == 1 })
	if d, _ := get(); d.confs != 6 {
		t.Fatalf("confirmed at %d confirmations, want 6", d.confs)
	}
	n.mine(t, 2) // later blocks change nothing for a confirmed deposit
	time.Sleep(2 * time.Second)

	rows, err := pg.Query(ctx, `SELECT e.kind, e.status, e.confirmations FROM deposit_events e JOIN deposits d ON d.id = e.deposit_id
		WHERE d.txid = $1 ORDER BY e.id`, txid)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var kind string
		var status, confs int
		if err := rows.Scan(&kind, &status, &confs); err != nil {
			t.Fatal(err)
		}
		got = append(got, kind+"/"+itoa(status)+"/"+itoa(confs))
	}
	rows.Close()
	want := []string{"created/0/1", "confirmations/0/2", "confirmations/0/3", "confirmations/0/4", "confirmations/0/5",
		"confirmations/0/6", "confirmed/1/6"}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
