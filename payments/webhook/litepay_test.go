package webhook

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiveAddress makes a litepay receive address (a wallet with a callback).
func (f fixture) receiveAddress(merchant int64, callback string) (wallet int64, address string) {
	f.t.Helper()
	wallet, address = f.wallet(merchant, "BTC")
	f.exec(`INSERT INTO receive_addresses (wallet_id, destination, callback_url, callback_req, fee_percent)
		VALUES ($1, 'bcrt1qdestination', $2, true, 0.01)`, wallet, callback)
	return wallet, address
}

// block moves the btc tip and lets the runner notice it, as its loop does.
func block(t *testing.T, f fixture, height int64) int64 {
	t.Helper()
	f.tip("btc", height)
	n, err := rearmLitepay(context.Background(), f.db)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLitepay: the callback keeps the URL's own parameters, is resent at
// every new block with the confirmations then, until the body says *ok*,
// and never after; unacknowledged it stops at 100 confirmations.
func TestLitepay(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	ctx := context.Background()
	okAfter := map[string]int{} // per transaction: answer *ok* from this confirmation on
	var mu sync.Mutex
	rcv := newReceiver(t, func(h hit, _ int) (int, string, time.Duration) {
		q, _ := url.ParseQuery(h.RawQuery)
		confs, _ := strconv.Atoi(q.Get("confirmations"))
		mu.Lock()
		n, ok := okAfter[q.Get("transaction_hash")]
		mu.Unlock()
		if ok && confs >= n {
			return 200, "thanks *ok*", 0
		}
		return 200, "error: try again", 0
	})
	m := f.merchant("lp-secret", nil) // no iqpay endpoints: litepay only
	r := mustRunner(t, testDeps(db))
	f.tip("btc", 100)

	// acknowledged at the second block
	w, addr := f.receiveAddress(m, rcv.URL+"/callback.php?id=123&secret=abc")
	dep := f.deposit(w, "BTC", "150000", ptr(int64(100)))
	var hash string
	if err := db.QueryRow(ctx, `SELECT txid FROM deposits WHERE id = $1`, dep).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	okAfter[hash] = 2
	mu.Unlock()
	created := f.event(dep, "created", 0, 1, 0)
	f.event(dep, "confirmations", 0, 2, 0) // later events make no more litepay deliveries
	mustFanOut(t, db)
	if n := f.count(`SELECT count(*) FROM webhook_deliveries WHERE flavour = 'litepay'`); n != 1 {
		t.Fatalf("%d litepay deliveries for one deposit", n)
	}
	id := f.deliveryOf(created, "litepay")
	step(t, r)
	hits := rcv.hits()
	if len(hits) != 1 || hits[0].Method != "GET" || hits[0].Path != "/callback.php" {
		t.Fatalf("hits %+v", hits)
	}
	wantQuery := "id=123&secret=abc&value=150000&input_address=" + addr + "&transaction_hash=" + hash +
		"&destination_address=bcrt1qdestination&coin=BTC&confirmations=1&event_id=" + strconv.FormatInt(created, 10)
	if hits[0].RawQuery != wantQuery {
		t.Fatalf("query\n%s\nwant\n%s", hits[0].RawQuery, wantQuery)
	}
	v, err := Verify("lp-secret", Expect{Flavours: []string{FlavourLitepay}, Method: "GET", URL: rcv.URL + "/callback.php", Tolerance: -1},
		hits[0].Header, []byte(hits[0].RawQuery))
	if err != nil || v.Flavour != FlavourLitepay || v.Kind != KindPayment || v.EventID != created {
		t.Fatalf("litepay callback verified as %+v: %v", v, err)
	}
	if h := hits[0].Header; h.Get(HeaderFlavour) != FlavourLitepay || h.Get(HeaderEventKind) != KindPayment {
		t.Fatalf("headers %v", h)
	}
	if d := f.delivery(id); d.State != "pending" || d.NextAt != nil || !strings.Contains(d.LastError, "without *ok*") {
		t.Fatalf("waiting delivery %+v", d)
	}
	if n, err := rearmLitepay(ctx, db); err != nil || n != 0 {
		t.Fatalf("re-armed without a new block: %d %v", n, err)
	}
	if j := step(t, r); j != nil {
		t.Fatal("resent without a new block")
	}
	if block(t, f, 101) != 1 {
		t.Fatal("a new block did not make the callback due")
	}
	step(t, r)
	if hits = rcv.hits(); len(hits) != 2 || !strings.Contains(hits[1].RawQuery, "&confirmations=2&") {
		t.Fatalf("resend %+v", hits)
	}
	if d := f.delivery(id); d.State != "delivered" || d.Attempts != 2 {
		t.Fatalf("after *ok*: %+v", d)
	}
	block(t, f, 102)
	if j := step(t, r); j != nil || len(rcv.hits()) != 2 {
		t.Fatal("sent again after *ok*")
	}

	// never acknowledged: sent at 99 and 100 confirmations, then given up
	w2, _ := f.receiveAddress(m, rcv.URL+"/cb")
	dep2 := f.deposit(w2, "BTC", "7", ptr(int64(102-98)))
	id2 := f.deliveryOf(func() int64 { e := f.event(dep2, "created", 0, 99, 0); mustFanOut(t, db); return e }(), "litepay")
	step(t, r)
	block(t, f, 103)
	step(t, r)
	if d := f.delivery(id2); d.State != "failed" || d.Attempts != 2 {
		t.Fatalf("at 100 confirmations: %+v", d)
	}
	if hits = rcv.hits(); len(hits) != 4 || !strings.Contains(hits[3].RawQuery, "&confirmations=100&") {
		t.Fatalf("hits %d, last %s", len(hits), hits[len(hits)-1].RawQuery)
	}
	block(t, f, 104)
	if j := step(t, r); j != nil || len(rcv.hits()) != 4 {
		t.Fatal("sent past 100 confirmations")
	}

	// a failed deposit stops its callback before it is sent; mined after all, it comes back
	w3, _ := f.receiveAddress(m, rcv.URL+"/cb3")
	dep3 := f.deposit(w3, "BTC", "9", ptr(int64(104)))
	e3 := f.event(dep3, "created", 0, 1, 0)
	f.exec(`UPDATE deposits SET status = 2, block_height = NULL WHERE id = $1`, dep3)
	f.event(dep3, "failed", 2, 0, 0)
	mustFanOut(t, db)
	id3 := f.deliveryOf(e3, "litepay")
	if d := f.delivery(id3); d.State != "failed" || d.LastError != errDepositFailed {
		t.Fatalf("failed deposit: %+v", d)
	}
	if j := step(t, r); j != nil {
		t.Fatal("sent for a failed deposit")
	}
	f.exec(`UPDATE deposits SET status = 0, block_height = 104, reorgs = 1 WHERE id = $1`, dep3)
	f.event(dep3, "confirmations", 0, 2, 1)
	block(t, f, 105)
	mustFanOut(t, db)
	step(t, r)
	if hits = rcv.hits(); len(hits) != 5 || hits[4].Path != "/cb3" || !strings.Contains(hits[4].RawQuery, "&confirmations=2&") {
		t.Fatalf("revived callback not sent: %d hits", len(hits))
	}

	// out of the chain after a reorg: not sent, waits for it to be mined again
	w4, _ := f.receiveAddress(m, rcv.URL+"/cb4")
	dep4 := f.deposit(w4, "BTC", "9", nil)
	id4 := f.deliveryOf(func() int64 { e := f.event(dep4, "created", 0, 1, 0); mustFanOut(t, db); return e }(), "litepay")
	step(t, r)
	if d := f.delivery(id4); d.State != "pending" || d.NextAt != nil || len(rcv.hits()) != 5 || !strings.Contains(d.LastError, "out of the chain") {
		t.Fatalf("orphaned: %+v", d)
	}

	if n := counted(r.m, "litepay", ResultDelivered); n != 1 {
		t.Fatalf("litepay delivered metric %v", n)
	}
	if n := counted(r.m, "litepay", ResultFailed); n != 1 {
		t.Fatalf("litepay failed metric %v", n)
	}
}

// TestLitepayRun: Run itself notices new blocks and resends.
func TestLitepayRun(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	rcv := newReceiver(t, func(h hit, _ int) (int, string, time.Duration) {
		if strings.Contains(h.RawQuery, "&confirmations=3&") {
			return 200, "*ok*", 0
		}
		return 200, "not yet", 0
	})
	m := f.merchant("s", nil)
	w, _ := f.receiveAddress(m, rcv.URL+"/cb?k=v")
	f.tip("btc", 10)
	f.event(f.deposit(w, "BTC", "1", ptr(int64(10))), "created", 0, 1, 0)
	start(t, testDeps(db))
	for i, height := range []int64{11, 12} {
		waitFor(t, 5*time.Second, "a callback", func() bool { return len(rcv.hits()) == i+1 })
		f.tip("btc", height)
	}
	waitFor(t, 5*time.Second, "the acknowledgement", func() bool {
		return f.count(`SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'`) == 1
	})
	f.tip("btc", 13)
	time.Sleep(300 * time.Millisecond)
	if n := len(rcv.hits()); n != 3 {
		t.Fatalf("%d callbacks, want 3", n)
	}
}

// TestLitepayBlockDuringRequest: a block found while a callback is in
// flight makes it due again at once, not at the block after.
func TestLitepayBlockDuringRequest(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	rcv := newReceiver(t, func(h hit, n int) (int, string, time.Duration) {
		if n == 0 {
			_, _ = db.Exec(context.Background(), `UPDATE chain_checkpoints SET height = 11, updated_at = now() WHERE chain = 'btc'`)
		}
		return 200, "no", 0
	})
	m := f.merchant("s", nil)
	w, _ := f.receiveAddress(m, rcv.URL+"/cb")
	f.tip("btc", 10)
	ev := f.event(f.deposit(w, "BTC", "1", ptr(int64(10))), "created", 0, 1, 0)
	mustFanOut(t, db)
	r := mustRunner(t, testDeps(db))
	step(t, r)
	if d := f.delivery(f.deliveryOf(ev, "litepay")); d.NextAt == nil {
		t.Fatalf("waits for another block: %+v", d)
	}
	step(t, r)
	if hits := rcv.hits(); len(hits) != 2 || !strings.Contains(hits[1].RawQuery, "&confirmations=2&") {
		t.Fatalf("%d hits", len(hits))
	}
}

// TestLitepayOnlyForwardedPayments: litepay calls back "each time a payment
// is forwarded": not before the forward is sent (then at once, without
// waiting for a block), never for a donation (under the minimum, kept), and
// a receive address never produces an iqpay webhook, whatever endpoints its
// merchant has.
func TestLitepayOnlyForwardedPayments(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	rcv := newReceiver(t, answer(200, "*ok*"))
	m := f.merchant("s", allKinds("POST", rcv.URL+"/iqpay"))
	w, _ := f.receiveAddress(m, rcv.URL+"/cb")
	dw, _ := f.receiveAddress(m, rcv.URL+"/donation")
	f.tip("btc", 10)
	dep := f.deposit(w, "BTC", "150000", ptr(int64(10)))
	f.exec("UPDATE deposits SET sweep_id = NULL WHERE id = $1", dep) // confirmed, not yet forwarded
	ev := f.event(dep, "created", 0, 1, 0)
	don := f.deposit(dw, "BTC", "700", ptr(int64(10)))
	f.exec("UPDATE deposits SET sweep_id = NULL, donation = true WHERE id = $1", don)
	dev := f.event(don, "created", 0, 1, 0)
	mustFanOut(t, db)
	if n := f.count("SELECT count(*) FROM webhook_deliveries WHERE flavour = 'iqpay'"); n != 0 {
		t.Fatalf("%d iqpay deliveries for receive addresses", n)
	}
	r := mustRunner(t, testDeps(db))
	for step(t, r) != nil {
	}
	if hits := rcv.hits(); len(hits) != 0 {
		t.Fatalf("callbacks before the forward or for a donation: %+v", hits)
	}
	if d := f.delivery(f.deliveryOf(dev, "litepay")); d.State != "failed" || d.LastError != errDonation {
		t.Errorf("the donation's callback: %+v", d)
	}
	if d := f.delivery(f.deliveryOf(ev, "litepay")); d.State != "pending" || !strings.Contains(d.LastError, "not forwarded yet") {
		t.Errorf("the callback before the forward: %+v", d)
	}
	// the sweeper broadcasts the forward: the callback goes at once, same block
	f.exec(`WITH s AS (INSERT INTO sweeps (chain, currency, merchant_id, kind, state, destination, amount)
			VALUES ('btc', 'BTC', $1, 'forward', 'broadcast', 'bcrt1qdestination', 150000) RETURNING id)
		UPDATE deposits SET sweep_id = s.id FROM s WHERE deposits.id = $2`, m, dep)
	f.exec(`UPDATE webhook_deliveries SET next_at = now() WHERE flavour = 'litepay' AND state = 'pending' AND next_at = 'infinity'
		AND deposit_id IN (SELECT id FROM deposits WHERE sweep_id IS NOT NULL)`) // what the sweep runner does at broadcast
	for step(t, r) != nil {
	}
	hits := rcv.hits()
	if len(hits) != 1 || hits[0].Path != "/cb" || !strings.Contains(hits[0].RawQuery, "value=150000") {
		t.Fatalf("after the forward: %+v", hits)
	}
}
