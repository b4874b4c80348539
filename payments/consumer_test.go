package payments

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicepay/sluice/indexer"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/stores"
)

// TestConsumerGone drives the payments worker with the block events the
// indexer publishes (the contract between them) for a transaction that a
// reorg removes and that never comes back (double-spent): the deposit waits
// unconfirmed, then fails after FailAfter blocks; if the transaction is
// mined after all, the deposit comes back to life and confirms.
func TestConsumerGone(t *testing.T) {
	l, _ := newLedger(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u := strings.TrimSuffix(testenv.Get(t, "SLUICE_REDIS_URL"), "/0") + "/12"
	rd, err := stores.OpenRedis(u)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	rd.FlushDB(ctx)
	m, err := l.CreateMerchant(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := l.WalletFor(ctx, m.ID, "LTC", "c1")
	if err != nil {
		t.Fatal(err)
	}
	credit := indexer.Credit{Address: w.Address, Currency: "LTC", TxID: "aa", Position: "vout:0", Amount: "5000", From: "payer"}
	pub := indexer.RedisPublisher{Client: rd}
	block := func(h int64, kind string, credits ...indexer.Credit) indexer.Event {
		return indexer.Event{Kind: kind, Height: h, Hash: "h" + strconv.FormatInt(h, 10), Credits: credits}
	}
	publish := func(evs ...indexer.Event) {
		t.Helper()
		if err := pub.Publish(ctx, "ltc", evs); err != nil {
			t.Fatal(err)
		}
	}
	c := &Consumer{Ledger: l, Redis: rd, Chain: "ltc", Name: "t", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: NewMetrics(prometheus.NewRegistry())}
	go func() { _ = c.Run(ctx) }()
	state := func() (status, confs int) {
		_ = l.DB.QueryRow(ctx, "SELECT status, confirmations FROM deposits WHERE txid = 'aa'").Scan(&status, &confs)
		return
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for i := 0; i < 200 && !cond(); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		if !cond() {
			t.Fatalf("timed out waiting for %s", what)
		}
	}

	publish(block(10, "connected", credit), block(11, "connected"))
	wait("2 confirmations", func() bool { _, n := state(); return n == 2 })
	publish(block(11, "disconnected"), block(10, "disconnected"))
	wait("unconfirmed", func() bool { s, n := state(); return s == 0 && n == 0 })
	var evs []indexer.Event
	for h := int64(10); h < 10+FailAfter-1; h++ {
		evs = append(evs, block(h, "connected"))
	}
	publish(evs...)
	time.Sleep(500 * time.Millisecond)
	if s, _ := state(); s != 0 {
		t.Fatalf("failed before FailAfter blocks: status %d", s)
	}
	publish(block(10+FailAfter-1, "connected"), block(10+FailAfter, "connected"))
	wait("failed", func() bool { s, _ := state(); return s == 2 })

	// mined after all: alive again, announced in that block's own event
	// (not at the next block), and confirmed at 6
	events := func() []string {
		t.Helper()
		rows, err := l.DB.Query(ctx, "SELECT kind || '/' || status || '/' || confirmations || '/' || generation FROM deposit_events ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		return got
	}
	publish(block(10+FailAfter+1, "connected", credit))
	wait("alive again", func() bool { s, n := state(); return s == 0 && n == 1 })
	if got := events(); got[len(got)-1] != "confirmations/0/1/1" {
		t.Fatalf("revived deposit announced nothing in its block: events %v", got)
	}
	// a replay of that block announces nothing more
	publish(block(10+FailAfter+1, "connected", credit))
	for h := int64(10 + FailAfter + 2); h <= 10+FailAfter+6; h++ {
		publish(block(h, "connected"))
	}
	wait("confirmed after coming back", func() bool { s, _ := state(); return s == 1 })

	// a second reorg is announced again (a new generation of events), and a
	// replay of that disconnect changes nothing
	gone := block(10+FailAfter+1, "disconnected")
	publish(gone, gone)
	wait("unconfirmed again", func() bool { s, n := state(); return s == 0 && n == 0 })
	publish(block(10+FailAfter+1, "connected", credit), block(10+FailAfter+2, "connected"))
	wait("2 confirmations again", func() bool { _, n := state(); return n == 2 })

	got := events()
	js, _ := json.Marshal(got)
	want := []string{"created/0/1/0", "confirmations/0/2/0", "unconfirmed/0/0/1", "failed/2/0/1",
		"confirmations/0/1/1", "confirmations/0/2/1", "confirmations/0/3/1", "confirmations/0/4/1", "confirmations/0/5/1", "confirmations/0/6/1", "confirmed/1/6/1",
		"unconfirmed/0/0/2", "confirmations/0/2/2"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events\n got %s\nwant %v", js, want)
	}
	// every entry is applied and acknowledged: the lag gauge says 0, not the
	// size of the last batch it read
	wait("stream lag 0", func() bool { return testutil.ToFloat64(c.Metrics.Lag.WithLabelValues("ltc")) == 0 })
}
