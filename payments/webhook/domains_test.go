package webhook

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestDeadDomainBlocked: litepay's "callback domains which appear dead or
// never return the *ok* response may be blocked". Callbacks that fail
// without one *ok* for BlockDeadAfter block the domain (CheckDomain, which
// /api/receive asks, refuses it saying why); an operator unblocks it; an
// *ok* clears its failing streak.
func TestDeadDomainBlocked(t *testing.T) {
	db := newDB(t)
	f := fixture{t, db}
	ctx := context.Background()
	dead := newReceiver(t, answer(200, "maintenance")) // answers, never *ok*
	m := f.merchant("s", nil)
	w, _ := f.receiveAddress(m, dead.URL+"/cb?id=1")
	f.tip("btc", 10)
	f.event(f.deposit(w, "BTC", "150000", ptr(int64(10))), "created", 0, 1, 0)
	mustFanOut(t, db)
	d := testDeps(db)
	d.BlockDeadAfter = 300 * time.Millisecond
	r := mustRunner(t, d)
	step(t, r) // the first failure starts the streak
	if err := CheckDomain(ctx, db, dead.URL+"/other"); err != nil {
		t.Fatalf("blocked after one failure: %v", err)
	}
	time.Sleep(400 * time.Millisecond)
	block(t, f, 11)
	step(t, r) // still failing past BlockDeadAfter: blocked
	err := CheckDomain(ctx, db, "http://127.0.0.1:1/another/path")
	if !errors.Is(err, ErrDomainBlocked) {
		t.Fatalf("CheckDomain after failing for longer than BlockDeadAfter: %v", err)
	}
	t.Log(err)
	ds, err := Domains(ctx, db, false)
	if err != nil || len(ds) != 1 || ds[0].Domain != "127.0.0.1" || ds[0].BlockedAt == nil || ds[0].Failures != 2 || ds[0].LastError == "" {
		t.Fatalf("domains %+v %v", ds, err)
	}
	if ok, err := Unblock(ctx, db, "127.0.0.1"); err != nil || !ok {
		t.Fatalf("unblock: %v %v", ok, err)
	}
	if err := CheckDomain(ctx, db, dead.URL+"/cb"); err != nil {
		t.Fatalf("after unblocking: %v", err)
	}
	// an *ok* from the domain ends its failing streak
	alive := newReceiver(t, answer(200, "*ok*"))
	w2, _ := f.receiveAddress(m, alive.URL+"/cb")
	f.event(f.deposit(w2, "BTC", "150000", ptr(int64(11))), "created", 0, 1, 0)
	mustFanOut(t, db)
	for step(t, r) != nil {
	}
	ds, err = Domains(ctx, db, true)
	if err != nil || len(ds) != 1 || ds[0].FailingSince != nil || ds[0].Failures != 0 || ds[0].LastOK == nil {
		t.Fatalf("after an *ok*: %+v %v", ds, err)
	}
}
