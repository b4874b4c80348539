package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestIQPayFlow: a deposit's life reaches the merchant's endpoints in
// order, each kind with its method (GET and DELETE as query parameters),
// every request signed, amounts exact.
func TestIQPayFlow(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	rcv := newReceiver(t, nil)
	m := f.merchant("sec-flow", map[string][2]string{
		"created":       {"POST", rcv.URL + "/created"},
		"confirmations": {"GET", rcv.URL + "/confs?token=abc"},
		"confirmed":     {"PUT", rcv.URL + "/confirmed"},
		"failed":        {"DELETE", rcv.URL + "/failed"},
	})
	w, addr := f.wallet(m, "BTC")
	dep := f.deposit(w, "BTC", "1124", ptr(int64(100)))
	// seen, 2 confirmations, a reorg takes the block away, back with 2, confirmed
	events := []int64{
		f.event(dep, "created", 0, 1, 0),
		f.event(dep, "confirmations", 0, 2, 0),
		f.event(dep, "unconfirmed", 0, 0, 1),
		f.event(dep, "confirmations", 0, 2, 1),
		f.event(dep, "confirmed", 1, 2, 1),
	}
	failedDep := f.deposit(w, "BTC", "5000", ptr(int64(101)))
	events = append(events, f.event(failedDep, "created", 0, 1, 0), f.event(failedDep, "failed", 2, 0, 0))
	ew, _ := f.wallet(m, "ETH")
	ethEvent := f.event(f.deposit(ew, "ETH", "1000000000000000000", ptr(int64(5))), "created", 0, 1, 0)
	uw, _ := f.wallet(m, "USDT")
	usdtEvent := f.event(f.deposit(uw, "USDT", "25500000", ptr(int64(5))), "created", 0, 1, 0)

	d := testDeps(db)
	start(t, d)
	waitFor(t, 10*time.Second, "every delivery delivered", func() bool {
		return f.count(`SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'`) == 9
	})

	byEvent := map[string]hit{}
	var order []string
	for _, h := range rcv.hits() {
		id := h.Header.Get(HeaderEventID)
		payload := h.Body
		if h.Method == "GET" || h.Method == "DELETE" {
			payload = []byte(h.RawQuery)
			if len(h.Body) != 0 {
				t.Errorf("%s with a body", h.Method)
			}
		}
		v, err := Verify("sec-flow", Expect{Flavours: []string{FlavourIqpay}, Method: h.Method, URL: rcv.URL + h.Path, Tolerance: time.Minute}, h.Header, payload)
		if err != nil {
			t.Errorf("event %s: %v", id, err)
		} else if strconv.FormatInt(v.EventID, 10) != id || v.Kind != h.Header.Get(HeaderEventKind) || h.Header.Get(HeaderFlavour) != FlavourIqpay {
			t.Errorf("event %s: verified as %+v, headers %v", id, v, h.Header)
		}
		// signed for this endpoint only: another flavour, or another path, does not verify
		for _, e := range []Expect{{Flavours: []string{FlavourLitepay, FlavourWithdrawal}, Method: h.Method, URL: rcv.URL + h.Path},
			{Flavours: []string{FlavourIqpay}, Method: h.Method, URL: rcv.URL + "/elsewhere"}} {
			if _, err := Verify("sec-flow", e, h.Header, payload); !errors.Is(err, ErrSignature) {
				t.Errorf("event %s verified as %+v: %v", id, e, err)
			}
		}
		byEvent[id] = h
		order = append(order, id)
	}
	// in order per deposit
	pos := map[string]int{}
	for i, id := range order {
		pos[id] = i
	}
	for i := 1; i < 5; i++ {
		if pos[strconv.FormatInt(events[i], 10)] < pos[strconv.FormatInt(events[i-1], 10)] {
			t.Fatalf("out of order: %v (events %v)", order, events)
		}
	}
	if pos[strconv.FormatInt(events[6], 10)] < pos[strconv.FormatInt(events[5], 10)] {
		t.Fatalf("failed before created: %v", order)
	}

	// the methods and where each kind went
	want := []struct{ method, path, kind, status string }{
		{"POST", "/created", "created", "0"}, {"GET", "/confs", "confirmations", "0"}, {"GET", "/confs", "unconfirmed", "0"},
		{"GET", "/confs", "confirmations", "0"}, {"PUT", "/confirmed", "confirmed", "1"}, {"POST", "/created", "created", "0"},
		{"DELETE", "/failed", "failed", "2"},
	}
	for i, w := range want {
		h := byEvent[strconv.FormatInt(events[i], 10)]
		if h.Method != w.method || h.Path != w.path {
			t.Errorf("event %d (%s): %s %s, want %s %s", events[i], w.kind, h.Method, h.Path, w.method, w.path)
		}
		var kind, status string
		if h.Method == "GET" || h.Method == "DELETE" {
			q, _ := url.ParseQuery(h.RawQuery)
			kind, status = q.Get("kind"), q.Get("status")
			if !strings.HasPrefix(h.RawQuery, "token=abc&address=") && h.Path == "/confs" {
				t.Errorf("own query not kept first: %s", h.RawQuery)
			}
			if q.Get("amount") == "" || q.Get("event_id") != strconv.FormatInt(events[i], 10) {
				t.Errorf("query %s", h.RawQuery)
			}
		} else {
			var p map[string]any
			if err := json.Unmarshal(h.Body, &p); err != nil {
				t.Fatal(err)
			}
			kind, status = p["kind"].(string), strconv.Itoa(int(p["status"].(float64)))
			if h.Header.Get("Content-Type") != "application/json" {
				t.Errorf("content type %q", h.Header.Get("Content-Type"))
			}
		}
		if kind != w.kind || status != w.status {
			t.Errorf("event %d: kind %s status %s, want %s %s", events[i], kind, status, w.kind, w.status)
		}
	}

	// the exact body: the seed's fields, then sluice's
	created := byEvent[strconv.FormatInt(events[0], 10)]
	wantBody := `{"address":"` + addr + `","wallet_ext_id":"ext-` + addr + `","fromAddress":"payer","txid":"`
	if !strings.HasPrefix(string(created.Body), wantBody) ||
		!strings.Contains(string(created.Body), `","amount":0.00001124,"currency":"BTC","status":0,"convert_currency":"","convert_price":0,"converted_amount":0,"event_id":`+strconv.FormatInt(events[0], 10)+`,`) ||
		!strings.Contains(string(created.Body), `"kind":"created","confirmations":1,"confirmations_required":2,"position":"vout:0","amount_base_units":"1124","created_at":`) {
		t.Fatalf("body %s", created.Body)
	}
	for ev, amt := range map[int64]string{ethEvent: `"amount":1,"currency":"ETH"`, usdtEvent: `"amount":25.5,"currency":"USDT"`} {
		if b := byEvent[strconv.FormatInt(ev, 10)].Body; !strings.Contains(string(b), amt) {
			t.Errorf("body %s lacks %s", b, amt)
		}
	}
	if h := created.Header; h.Get(HeaderDeliveryID) == "" || !strings.HasPrefix(h.Get(HeaderSignature), "v2=") || strings.Contains(h.Get(HeaderSignature), "v1=") || h.Get("User-Agent") != "sluice-webhooks/1" {
		t.Errorf("headers %v", h)
	}
	if n := counted(d.Metrics, "iqpay", ResultDelivered); n != 9 {
		t.Errorf("delivered metric %v", n)
	}
	// one series per flavour, created at zero (iqpay, litepay, withdrawal)
	if n := testutil.CollectAndCount(d.Metrics.Duration); n != 3 {
		t.Errorf("duration series %d", n)
	}
}

// TestFanOut: deliveries exist only for endpoints the merchant has, once
// per event whatever the replays; an event not yet fanned out holds the
// later deliveries of its deposit back.
func TestFanOut(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	ctx := context.Background()
	silent := f.merchant("s", nil)
	sw, _ := f.wallet(silent, "BTC")
	f.event(f.deposit(sw, "BTC", "1", ptr(int64(1))), "created", 0, 1, 0)
	onlyConfirmed := f.merchant("s", map[string][2]string{"confirmed": {"POST", "http://127.0.0.1:9/c"}, "confirmations": {"PUT", "http://127.0.0.1:9/n"}})
	ow, _ := f.wallet(onlyConfirmed, "LTC")
	dep := f.deposit(ow, "LTC", "1", ptr(int64(1)))
	f.event(dep, "created", 0, 1, 0)
	unconf := f.event(dep, "unconfirmed", 0, 0, 1)
	conf := f.event(dep, "confirmed", 1, 6, 1)

	f.exec(`UPDATE deposit_events SET created_at = now() - interval '90 seconds' WHERE id = $1`, unconf)
	if n, oldest, err := backlog(ctx, db); err != nil || n != 4 || oldest < 90*time.Second || oldest > 100*time.Second {
		t.Fatalf("backlog before fan-out %d, oldest %s, %v", n, oldest, err)
	}
	if n := mustFanOut(t, db); n != 4 {
		t.Fatalf("fanned out %d", n)
	}
	if n := f.count(`SELECT count(*) FROM deposit_events WHERE NOT dispatched`); n != 0 {
		t.Fatalf("%d undispatched", n)
	}
	if n := f.count(`SELECT count(*) FROM webhook_deliveries`); n != 2 {
		t.Fatalf("%d deliveries", n)
	}
	if d := f.delivery(f.deliveryOf(unconf, "iqpay")); d.Method != "PUT" || d.URL != "http://127.0.0.1:9/n" || d.Kind != "unconfirmed" {
		t.Fatalf("unconfirmed goes to the confirmations endpoint: %+v", d)
	}
	f.delivery(f.deliveryOf(conf, "iqpay"))
	// a replay changes nothing
	f.exec(`UPDATE deposit_events SET dispatched = false`)
	mustFanOut(t, db)
	if n := f.count(`SELECT count(*) FROM webhook_deliveries`); n != 2 {
		t.Fatalf("%d deliveries after a replay", n)
	}
	if n, oldest, err := backlog(ctx, db); err != nil || n != 2 || oldest > 5*time.Second {
		t.Fatalf("backlog %d, oldest %s, %v", n, oldest, err)
	}

	// two fan-outs racing: the later event's delivery exists, the earlier
	// event is still locked by the other; the later must wait
	rcv := newReceiver(t, nil)
	m := f.merchant("s", allKinds("POST", rcv.URL))
	mw, _ := f.wallet(m, "BTC")
	d2 := f.deposit(mw, "BTC", "1", ptr(int64(1)))
	e1 := f.event(d2, "created", 0, 1, 0)
	e2 := f.event(d2, "confirmations", 0, 2, 0)
	f.exec(`DELETE FROM webhook_deliveries`)
	other, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(ctx, `SELECT 1 FROM deposit_events WHERE id = $1 FOR UPDATE`, e1); err != nil {
		t.Fatal(err)
	}
	mustFanOut(t, db) // takes e2 only
	r := mustRunner(t, testDeps(db))
	if j := step(t, r); j != nil {
		t.Fatalf("delivered event %d while event %d was not fanned out", j.EventID, e1)
	}
	_ = other.Rollback(ctx)
	mustFanOut(t, db)
	if j := step(t, r); j == nil || j.EventID != e1 {
		t.Fatalf("first claim %+v, want event %d", j, e1)
	}
	if j := step(t, r); j == nil || j.EventID != e2 {
		t.Fatalf("second claim %+v, want event %d", j, e2)
	}
}

// TestOnly200Acks: 201, 500 and a timeout are retried, each wait longer
// than the last; only 200 acknowledges.
func TestOnly200Acks(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	answers := []func(hit, int) (int, string, time.Duration){
		answer(201, "created"), answer(500, "boom"),
		func(hit, int) (int, string, time.Duration) { return 200, "", 3 * time.Second }, // past the timeout
		answer(200, "ok"),
	}
	rcv := newReceiver(t, func(h hit, n int) (int, string, time.Duration) { return answers[min(n, 3)](h, n) })
	m := f.merchant("s", allKinds("POST", rcv.URL))
	w, _ := f.wallet(m, "BTC")
	ev := f.event(f.deposit(w, "BTC", "1", ptr(int64(1))), "created", 0, 1, 0)
	d := testDeps(db)
	d.Timeout, d.BackoffBase, d.BackoffMax = 500*time.Millisecond, 2*time.Second, time.Hour
	r := mustRunner(t, d)
	mustFanOut(t, db)
	id := f.deliveryOf(ev, "iqpay")

	wantWait := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second}
	for i, full := range wantWait {
		if j := step(t, r); j == nil {
			t.Fatalf("attempt %d: nothing due", i+1)
		}
		var wait time.Duration
		var micros int64
		if err := db.QueryRow(context.Background(), `SELECT (extract(epoch FROM next_at - now()) * 1e6)::bigint FROM webhook_deliveries WHERE id = $1`, id).Scan(&micros); err != nil {
			t.Fatal(err)
		}
		wait = time.Duration(micros) * time.Microsecond
		if wait < full/2-time.Second || wait > full {
			t.Fatalf("attempt %d: next try in %s, want between %s and %s", i+1, wait, full/2, full)
		}
		if j := step(t, r); j != nil {
			t.Fatalf("attempt %d: retried at once", i+1)
		}
		f.exec(`UPDATE webhook_deliveries SET next_at = now() WHERE id = $1`, id) // skip the wait
	}
	step(t, r)
	got := f.delivery(id)
	if got.State != "delivered" || got.Attempts != 4 || got.DeliveredAt == nil || got.NextAt != nil || got.LastError != "" {
		t.Fatalf("delivery %+v", got)
	}
	codes := []string{}
	for _, a := range got.Log {
		c := "none"
		if a.StatusCode != nil {
			c = strconv.Itoa(*a.StatusCode)
		}
		codes = append(codes, c)
	}
	if strings.Join(codes, ",") != "201,500,none,200" {
		t.Fatalf("log %v", codes)
	}
	if !strings.Contains(got.Log[0].Error, `HTTP 201, not 200: "created"`) || !strings.Contains(got.Log[2].Error, "no response within 500ms") {
		t.Fatalf("log errors %q / %q", got.Log[0].Error, got.Log[2].Error)
	}
	if n := counted(d.Metrics, "iqpay", ResultRetry); n != 3 {
		t.Fatalf("retry metric %v", n)
	}
}

// TestIsolationAndOrder: merchant A's endpoint hangs; merchant B's
// deliveries go through meanwhile, and A's later events wait for their
// deposit's first, then all arrive in order once A answers.
func TestIsolationAndOrder(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	var aUp atomic.Bool
	var aNow, aMax atomic.Int32 // A's requests in flight, and the most at once
	a := newReceiver(t, func(hit, int) (int, string, time.Duration) {
		if aUp.Load() {
			return 200, "", 0
		}
		return 200, "", 5 * time.Second // longer than the timeout
	})
	inner := a.Config.Handler
	a.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := aNow.Add(1)
		defer aNow.Add(-1)
		for m := aMax.Load(); n > m && !aMax.CompareAndSwap(m, n); m = aMax.Load() {
		}
		inner.ServeHTTP(w, r)
	})
	b := newReceiver(t, nil)
	ma := f.merchant("sa", allKinds("POST", a.URL))
	mb := f.merchant("sb", allKinds("POST", b.URL))
	aw, _ := f.wallet(ma, "BTC")
	bw, _ := f.wallet(mb, "BTC")
	aEvents := map[int64][]int64{}
	for range 3 {
		dep := f.deposit(aw, "BTC", "1", ptr(int64(1)))
		aEvents[dep] = []int64{f.event(dep, "created", 0, 1, 0), f.event(dep, "confirmations", 0, 2, 0)}
	}
	for range 2 {
		dep := f.deposit(bw, "BTC", "1", ptr(int64(1)))
		f.event(dep, "created", 0, 1, 0)
		f.event(dep, "confirmations", 0, 2, 0)
		f.event(dep, "confirmed", 1, 2, 0)
	}
	d := testDeps(db)
	d.Workers, d.Timeout = 2, 700*time.Millisecond
	start(t, d)
	began := time.Now()
	waitFor(t, 5*time.Second, "merchant B's deliveries", func() bool {
		return f.count(`SELECT count(*) FROM webhook_deliveries WHERE merchant_id = $1 AND state = 'delivered'`, mb) == 6
	})
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("merchant B waited %s behind merchant A", took)
	}
	waitFor(t, 5*time.Second, "a retry to A", func() bool { return len(a.hits()) >= 2 })
	if m := aMax.Load(); m != 1 {
		t.Errorf("merchant A held %d of the 2 workers at once; the cap is half", m)
	}
	for _, h := range a.hits() {
		var p Payload
		_ = json.Unmarshal(h.Body, &p)
		if p.Kind != "created" {
			t.Fatalf("A got a %s event while its deposit's created one was undelivered", p.Kind)
		}
	}
	aUp.Store(true)
	waitFor(t, 10*time.Second, "merchant A's deliveries", func() bool {
		return f.count(`SELECT count(*) FROM webhook_deliveries WHERE merchant_id = $1 AND state = 'delivered'`, ma) == 6
	})
	// per deposit, the last arrival of each event is in event order
	last := map[int64]int{}
	for i, h := range a.hits() {
		var p Payload
		_ = json.Unmarshal(h.Body, &p)
		last[p.EventID] = i
	}
	for dep, evs := range aEvents {
		if last[evs[1]] < last[evs[0]] {
			t.Fatalf("deposit %d: events out of order", dep)
		}
	}
}

// TestGiveUp: an iqpay webhook is retried for max_age, the last try on the
// deadline, then marked failed; a redelivery gets a fresh window.
func TestGiveUp(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	rcv := newReceiver(t, func(hit, int) (int, string, time.Duration) { return 500, "down", 0 })
	m := f.merchant("s", allKinds("POST", rcv.URL))
	w, _ := f.wallet(m, "BTC")
	old := f.event(f.deposit(w, "BTC", "1", ptr(int64(1))), "created", 0, 1, 0)
	nearly := f.event(f.deposit(w, "BTC", "1", ptr(int64(1))), "created", 0, 1, 0)
	d := testDeps(db)
	d.MaxAge, d.BackoffBase, d.BackoffMax = 72*time.Hour, time.Hour, time.Hour
	r := mustRunner(t, d)
	mustFanOut(t, db)
	oldID, nearlyID := f.deliveryOf(old, "iqpay"), f.deliveryOf(nearly, "iqpay")
	f.exec(`UPDATE webhook_deliveries SET created_at = now() - interval '73 hours' WHERE id = $1`, oldID)
	f.exec(`UPDATE webhook_deliveries SET created_at = now() - interval '71 hours 59 minutes' WHERE id = $1`, nearlyID)
	step(t, r)
	step(t, r)

	got := f.delivery(oldID)
	if got.State != "failed" || got.NextAt != nil || !strings.HasPrefix(got.LastError, `given up after 72h0m0s: HTTP 500, not 200: "down"`) || *got.LastStatus != 500 {
		t.Fatalf("old delivery %+v", got)
	}
	// the young one retries, but not past its deadline (1 minute away, not the 1h backoff)
	young := f.delivery(nearlyID)
	if young.State != "pending" || young.NextAt == nil || time.Until(*young.NextAt) > 2*time.Minute {
		t.Fatalf("young delivery %+v", young)
	}
	if n := counted(d.Metrics, "iqpay", ResultFailed); n != 1 {
		t.Fatalf("failed metric %v", n)
	}

	// redelivered: tried now, and a failure does not fail it at once
	if _, err := Redeliver(context.Background(), db, m, oldID); err != nil {
		t.Fatal(err)
	}
	if j := step(t, r); j == nil || j.ID != oldID {
		t.Fatalf("redelivery not due: %+v", j)
	}
	if got := f.delivery(oldID); got.State != "pending" || got.Attempts != 1 || len(got.Log) != 2 {
		t.Fatalf("after a redelivery %+v", got)
	}
}

// TestReceiverDownThenBack: nothing listens for a while; once something
// does, every event arrives.
func TestReceiverDownThenBack(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	m := f.merchant("s", allKinds("POST", "http://"+addr+"/hook"))
	w, _ := f.wallet(m, "BTC")
	var events []int64
	for range 3 {
		dep := f.deposit(w, "BTC", "1", ptr(int64(1)))
		events = append(events, f.event(dep, "created", 0, 1, 0), f.event(dep, "confirmations", 0, 2, 0), f.event(dep, "confirmed", 1, 2, 0))
	}
	start(t, testDeps(db))
	waitFor(t, 5*time.Second, "failed attempts", func() bool {
		return f.count(`SELECT count(*) FROM webhook_attempts WHERE error LIKE '%connection refused%'`) >= 6
	})
	if n := f.count(`SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'`); n != 0 {
		t.Fatalf("%d delivered with nothing listening", n)
	}

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("could not listen on %s again: %v", addr, err)
	}
	var seen sync.Map
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get(HeaderEventID), true)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	waitFor(t, 10*time.Second, "every delivery", func() bool {
		return f.count(`SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'`) == len(events)
	})
	for _, e := range events {
		if _, ok := seen.Load(strconv.FormatInt(e, 10)); !ok {
			t.Errorf("event %d never arrived", e)
		}
	}
}

// TestLeaseExpiry: a worker that claimed a delivery and died (kill -9
// before or after sending) leaves it to another once the lease runs out;
// the repeat carries the same event id.
func TestLeaseExpiry(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	rcv := newReceiver(t, nil)
	m := f.merchant("s", allKinds("POST", rcv.URL))
	w, _ := f.wallet(m, "BTC")
	ev := f.event(f.deposit(w, "BTC", "1", ptr(int64(1))), "created", 0, 1, 0)
	mustFanOut(t, db)

	d := testDeps(db)
	d.Lease = time.Second
	dead := mustRunner(t, d)
	j, err := dead.claim(context.Background())
	if err != nil || j == nil {
		t.Fatalf("claim: %+v %v", j, err)
	}
	// it got as far as sending, then died before recording
	evData, err := dead.load(context.Background(), j.EventID)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := payload(evData, nil, "", "")
	req, _ := iqpayRequest(FlavourIqpay, evData.Kind, j.Method, j.URL, p, p.params())
	if o, _ := dead.send(context.Background(), j, evData.Secret, req); o.status == nil || *o.status != 200 {
		t.Fatalf("send %+v", o)
	}
	if j2 := step(t, mustRunner(t, testDeps(db))); j2 != nil {
		t.Fatal("claimed again while leased")
	}

	start(t, testDeps(db))
	id := f.deliveryOf(ev, "iqpay")
	waitFor(t, 5*time.Second, "the delivery after the lease", func() bool { return f.delivery(id).State == "delivered" })
	hits := rcv.hits()
	if len(hits) != 2 || hits[0].Header.Get(HeaderEventID) != hits[1].Header.Get(HeaderEventID) ||
		hits[0].Header.Get(HeaderEventID) != strconv.FormatInt(ev, 10) {
		t.Fatalf("%d hits", len(hits))
	}
	if got := f.delivery(id); got.Attempts != 1 || len(got.Log) != 1 {
		t.Fatalf("delivery %+v", got)
	}
}

// TestRefusedAtDial: a name that resolves to loopback is refused when it
// connects unless loopback is allowed, and the refusal is logged.
func TestRefusedAtDial(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	rcv := newReceiver(t, nil)
	m := f.merchant("s", allKinds("POST", strings.Replace(rcv.URL, "127.0.0.1", "localhost", 1)+"/hook"))
	w, _ := f.wallet(m, "BTC")
	ev := f.event(f.deposit(w, "BTC", "1", ptr(int64(1))), "created", 0, 1, 0)
	mustFanOut(t, db)
	d := testDeps(db)
	d.Allow = Allow{}
	step(t, mustRunner(t, d))
	got := f.delivery(f.deliveryOf(ev, "iqpay"))
	if len(rcv.hits()) != 0 || got.State != "pending" || !strings.Contains(got.LastError, "not a public address") ||
		!strings.Contains(got.LastError, "loopback") || got.LastStatus != nil {
		t.Fatalf("delivery %+v, %d hits", got, len(rcv.hits()))
	}
	if n := counted(d.Metrics, "iqpay", ResultRefused); n != 1 {
		t.Fatalf("refused metric %v", n)
	}
}

// TestRedeliverAndList: the merchant's delivery log, paged, and
// redelivery, only of its own deliveries.
func TestRedeliverAndList(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	ctx := context.Background()
	rcv := newReceiver(t, nil)
	m := f.merchant("s", allKinds("POST", rcv.URL+"/old"))
	other := f.merchant("s2", nil)
	w, _ := f.wallet(m, "BTC")
	dep := f.deposit(w, "BTC", "1", ptr(int64(1)))
	evs := []int64{f.event(dep, "created", 0, 1, 0), f.event(dep, "confirmations", 0, 2, 0), f.event(dep, "confirmed", 1, 2, 0)}
	mustFanOut(t, db)
	r := mustRunner(t, testDeps(db))
	for step(t, r) != nil {
	}

	all, next, err := ListDeliveries(ctx, db, m, ListFilter{})
	if err != nil || next != "" || len(all) != 3 {
		t.Fatalf("%d deliveries, next %q, %v", len(all), next, err)
	}
	if all[0].EventID != evs[2] || all[2].EventID != evs[0] || all[0].State != "delivered" || len(all[0].Log) != 1 ||
		*all[0].Log[0].StatusCode != 200 || all[0].Kind != "confirmed" || all[0].Flavour != "iqpay" {
		t.Fatalf("list %+v", all)
	}
	page1, next, err := ListDeliveries(ctx, db, m, ListFilter{Limit: 2})
	if err != nil || len(page1) != 2 || next == "" {
		t.Fatalf("page 1: %d, %q, %v", len(page1), next, err)
	}
	page2, next2, err := ListDeliveries(ctx, db, m, ListFilter{Limit: 2, Cursor: next})
	if err != nil || len(page2) != 1 || next2 != "" || page2[0].ID != all[2].ID {
		t.Fatalf("page 2: %+v, %q, %v", page2, next2, err)
	}
	if got, _, _ := ListDeliveries(ctx, db, m, ListFilter{State: "failed"}); len(got) != 0 {
		t.Fatalf("failed filter: %d", len(got))
	}
	if got, _, _ := ListDeliveries(ctx, db, m, ListFilter{EventID: evs[1]}); len(got) != 1 || got[0].EventID != evs[1] {
		t.Fatalf("event filter: %+v", got)
	}
	if got, _, _ := ListDeliveries(ctx, db, other, ListFilter{}); len(got) != 0 {
		t.Fatalf("another merchant sees %d", len(got))
	}
	for _, bad := range []ListFilter{{State: "lost"}, {Flavour: "x"}, {Limit: 1000}, {Cursor: "abc"}} {
		if _, _, err := ListDeliveries(ctx, db, m, bad); !errors.Is(err, ErrBadFilter) {
			t.Fatalf("filter %+v: %v", bad, err)
		}
	}

	target := all[1] // the confirmations delivery
	if _, err := Redeliver(ctx, db, other, target.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another merchant's redeliver: %v", err)
	}
	if _, err := Redeliver(ctx, db, m, 1<<40); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown delivery: %v", err)
	}
	// the merchant fixed its endpoint: the redelivery goes to the new one
	f.exec(`UPDATE merchant_webhooks SET url = $2, method = 'PUT' WHERE merchant_id = $1 AND kind = 'confirmations'`, m, rcv.URL+"/new")
	d, err := Redeliver(ctx, db, m, target.ID)
	if err != nil || d.State != "pending" || d.Attempts != 0 || d.URL != rcv.URL+"/new" || d.Method != "PUT" || len(d.Log) != 1 {
		t.Fatalf("redeliver: %+v %v", d, err)
	}
	if j := step(t, r); j == nil || j.ID != target.ID {
		t.Fatalf("redelivery not sent: %+v", j)
	}
	hits := rcv.hits()
	lastHit := hits[len(hits)-1]
	if len(hits) != 4 || lastHit.Method != "PUT" || lastHit.Path != "/new" || lastHit.Header.Get(HeaderEventID) != strconv.FormatInt(evs[1], 10) {
		t.Fatalf("%d hits, last %s %s", len(hits), lastHit.Method, lastHit.Path)
	}
	if got := f.delivery(target.ID); got.State != "delivered" || len(got.Log) != 2 {
		t.Fatalf("after redelivery %+v", got)
	}
}
