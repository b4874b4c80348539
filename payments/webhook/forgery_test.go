package webhook

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLitepayCallbackIsNotIqpay: the runner's litepay callback, sent to
// the very URL of the merchant's iqpay GET endpoint (whoever may create
// receive addresses chooses the callback URL), is signed as litepay: as
// captured there it verifies as a litepay callback and never as an iqpay
// (or withdrawal) webhook, headers or no headers, through Verify or
// VerifyCaptured (what `sluice webhooks verify` runs).
func TestLitepayCallbackIsNotIqpay(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	rcv := newReceiver(t, answer(200, "*ok*"))
	endpoint := rcv.URL + "/hooks/iqpay"
	m := f.merchant("shared-secret", allKinds("GET", endpoint+"?token=abc"))
	w, _ := f.receiveAddress(m, endpoint+"?token=abc")
	iw, _ := f.wallet(m, "BTC") // an iqpay wallet, its webhooks to the same URL (receive addresses get none)
	f.tip("btc", 100)
	ev := f.event(f.deposit(w, "BTC", "600", ptr(int64(100))), "created", 0, 1, 0)
	iqEv := f.event(f.deposit(iw, "BTC", "600", ptr(int64(100))), "created", 0, 1, 0)
	mustFanOut(t, db)
	r := mustRunner(t, testDeps(db))
	for step(t, r) != nil {
	}
	var cb, dep *hit
	for _, h := range rcv.hits() {
		switch h.Header.Get(HeaderFlavour) {
		case FlavourLitepay:
			cb = &h
		case FlavourIqpay:
			dep = &h
		}
	}
	if cb == nil || dep == nil || cb.Path != "/hooks/iqpay" || dep.Path != "/hooks/iqpay" {
		t.Fatalf("want a litepay callback and an iqpay webhook at one URL: %+v", rcv.hits())
	}
	received := endpoint + "?" + cb.RawQuery
	asIqpay := Expect{Flavours: []string{FlavourIqpay, FlavourWithdrawal}, Method: "GET", URL: received, Tolerance: time.Minute}
	if v, err := VerifyCaptured("shared-secret", asIqpay, cb.Header, nil); !errors.Is(err, ErrSignature) {
		t.Fatalf("the litepay callback verified as iqpay: %+v %v", v, err)
	}
	dressed := cb.Header.Clone()
	dressed.Set(HeaderFlavour, FlavourIqpay)
	dressed.Set(HeaderEventKind, "created")
	if v, err := VerifyCaptured("shared-secret", asIqpay, dressed, nil); !errors.Is(err, ErrSignature) {
		t.Fatalf("the litepay callback, headers changed, verified as iqpay: %+v %v", v, err)
	}
	v, err := VerifyCaptured("shared-secret", Expect{Flavours: []string{FlavourLitepay}, Method: "GET", URL: received, Tolerance: time.Minute}, cb.Header, nil)
	if err != nil || v.Kind != KindPayment || v.EventID != ev {
		t.Fatalf("as litepay: %+v %v", v, err)
	}
	// and the iqpay webhook there is the reverse
	depURL := endpoint + "?" + dep.RawQuery
	if _, err := VerifyCaptured("shared-secret", Expect{Flavours: []string{FlavourLitepay}, Method: "GET", URL: depURL}, dep.Header, nil); !errors.Is(err, ErrSignature) {
		t.Fatalf("the iqpay webhook verified as litepay: %v", err)
	}
	if v, err := VerifyCaptured("shared-secret", Expect{Flavours: []string{FlavourIqpay}, Kinds: []string{"created"}, Method: "GET", URL: depURL}, dep.Header, nil); err != nil || v.EventID != iqEv {
		t.Fatalf("the iqpay webhook: %+v %v", v, err)
	}
}

// TestShadowingURLNotSent: URLs stored before they were refused at
// registration, whose own query uses a parameter sluice adds (or, for a
// litepay callback, reads as an iqpay webhook), are not sent to: the
// delivery fails at once with the reason in its log. Fixed and
// redelivered, it goes.
func TestShadowingURLNotSent(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	rcv := newReceiver(t, answer(200, "*ok*"))
	m := f.merchant("s", map[string][2]string{"created": {"GET", rcv.URL + "/confs?token=a&Status=1"}})
	iw, _ := f.wallet(m, "BTC")
	iqEvent := f.event(f.deposit(iw, "BTC", "1", ptr(int64(100))), "created", 0, 1, 0)
	// issue 14's callback URL: the iqpay endpoint, the victim's wallet and a confirmed deposit in its query
	lw, _ := f.receiveAddress(m, rcv.URL+"/confs?address=bc1qvictim&wallet_ext_id=cust-1&status=1&kind=confirmed&amount=1000&txid=forged")
	f.tip("btc", 100)
	lpEvent := f.event(f.deposit(lw, "BTC", "600", ptr(int64(100))), "created", 0, 1, 0)
	// a litepay callback shadowing litepay's own parameter
	lw2, _ := f.receiveAddress(m, rcv.URL+"/cb?secret=x&VALUE=100000000")
	lpEvent2 := f.event(f.deposit(lw2, "BTC", "600", ptr(int64(100))), "created", 0, 1, 0)
	mustFanOut(t, db)
	d := testDeps(db)
	r := mustRunner(t, d)
	for step(t, r) != nil {
	}
	if hits := rcv.hits(); len(hits) != 0 {
		t.Fatalf("sent to a shadowing URL: %+v", hits)
	}
	for _, c := range []struct {
		id      int64
		flavour string
		says    string
	}{
		{f.deliveryOf(iqEvent, FlavourIqpay), FlavourIqpay, `"Status" (read as "status") is one sluice adds to iqpay GET requests`},
		{f.deliveryOf(lpEvent, FlavourLitepay), FlavourLitepay, `"address" is a parameter of sluice's iqpay webhooks`},
		{f.deliveryOf(lpEvent2, FlavourLitepay), FlavourLitepay, `"VALUE" (read as "value") is one sluice adds to litepay callbacks`},
	} {
		dl := f.delivery(c.id)
		if dl.State != "failed" || dl.Attempts != 1 || !strings.HasPrefix(dl.LastError, "not sent: ") || !strings.Contains(dl.LastError, c.says) ||
			len(dl.Log) != 1 || dl.Log[0].StatusCode != nil {
			t.Errorf("%s delivery %d: %+v, want failed with %q", c.flavour, c.id, dl, c.says)
		}
	}
	if n := counted(d.Metrics, FlavourLitepay, ResultFailed); n != 2 {
		t.Errorf("litepay failed metric %v", n)
	}

	// the merchant fixes the endpoint and redelivers: it goes
	f.exec(`UPDATE merchant_webhooks SET url = $2 WHERE merchant_id = $1`, m, rcv.URL+"/confs?token=a")
	if _, err := Redeliver(context.Background(), db, m, f.deliveryOf(iqEvent, FlavourIqpay)); err != nil {
		t.Fatal(err)
	}
	step(t, r)
	if hits := rcv.hits(); len(hits) != 1 || hits[0].RawQuery[:len("token=a&address=")] != "token=a&address=" {
		t.Fatalf("after the fix: %+v", hits)
	}
}
