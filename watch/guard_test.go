package watch

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// guardLedger is the ledger side of a guard under test: the addresses it
// lists, the height it reports matched, and the reconciles it was asked for.
type guardLedger struct {
	mu     sync.Mutex
	addrs  []string
	height int64
	froms  []int64
}

func newTestGuard(t *testing.T, s *Set, l *guardLedger, reg prometheus.Registerer) *Guard {
	t.Helper()
	g, err := NewGuard(s, reg)
	if err != nil {
		t.Fatal(err)
	}
	g.Ledger = func(context.Context) ([]string, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		return slices.Clone(l.addrs), nil
	}
	g.Height = func(context.Context) (int64, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.height, nil
	}
	g.Reconcile = func(_ context.Context, from int64) (int, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.froms = append(l.froms, from)
		return 0, nil
	}
	return g
}

func (l *guardLedger) reconciles() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.froms)
}

func (l *guardLedger) set(height int64, addrs ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.height = height
	l.addrs = append(l.addrs, addrs...)
}

// TestRebuildWritesSentinel: the sentinel exists exactly after a Rebuild
// (Add alone never makes one), and each rebuild has its own build id.
func TestRebuildWritesSentinel(t *testing.T) {
	ctx := context.Background()
	rdb := testRedis(t)
	s := open(t, rdb, "ltc", Config{Expected: 1000})
	if err := s.Add(ctx, "ltc1qfirst"); err != nil {
		t.Fatal(err)
	}
	if sen, err := s.Sentinel(ctx); err != nil || sen.Build != "" || sen.RepairFrom != -1 {
		t.Fatalf("sentinel after Add only = %+v, %v; want none", sen, err)
	}
	if err := s.Rebuild(ctx, seqOf([]string{"ltc1qa", "ltc1qb"})); err != nil {
		t.Fatal(err)
	}
	one, err := s.Sentinel(ctx)
	if err != nil || one.Build == "" || one.Addresses != 2 || one.At == 0 {
		t.Fatalf("sentinel after Rebuild = %+v, %v", one, err)
	}
	if err := s.Rebuild(ctx, seqOf(nil)); err != nil { // an empty ledger is a complete set too
		t.Fatal(err)
	}
	two, _ := s.Sentinel(ctx)
	if two.Build == "" || two.Build == one.Build || two.Addresses != 0 {
		t.Fatalf("second sentinel %+v after %+v", two, one)
	}
	if err := s.RequestRepair(ctx, 40); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestRepair(ctx, 50); err != nil { // the lowest height wins
		t.Fatal(err)
	}
	if sen, _ := s.Sentinel(ctx); sen.RepairFrom != 40 || sen.Build != two.Build {
		t.Fatalf("after repair requests: %+v", sen)
	}
}

// TestGuardRepairsFlushedSet: a flushed set (sentinel gone, an Add since
// started a new bitmap) is rebuilt from the ledger at the next check and the
// blocks from the last height seen intact are reconciled; a repair request
// (an Add failed while Redis was down) is served and cleared; a set another
// process rebuilt is checked, not rebuilt again.
func TestGuardRepairsFlushedSet(t *testing.T) {
	ctx := context.Background()
	rdb := testRedis(t)
	s := open(t, rdb, "ltc", Config{Expected: 1000})
	rng := rand.New(rand.NewPCG(3, 4))
	old := randAddrs(rng, "ltc1q", 50)
	l := &guardLedger{}
	l.set(100, old...)
	if err := s.Rebuild(ctx, seqOf(old)); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	g := newTestGuard(t, s, l, reg)
	g.Check(ctx)
	if got := l.reconciles(); len(got) != 0 {
		t.Fatalf("an intact set was reconciled: %v", got)
	}
	if v := testutil.ToFloat64(g.m.intact); v != 1 {
		t.Fatalf("intact gauge %v", v)
	}

	// FLUSHALL at height 100, a wallet made after it, blocks go on
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	fresh := randAddrs(rng, "ltc1q", 1)[0]
	l.set(104, fresh)
	if err := s.Add(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Match(ctx, old[:5]); len(got) != 0 {
		t.Fatalf("the test proves nothing: old addresses matched after the flush: %v", got)
	}
	g.Check(ctx)
	if got, err := s.Match(ctx, append(slices.Clone(old), fresh)); err != nil || len(got) != len(old)+1 {
		t.Fatalf("after the repair %d of %d addresses match (%v)", len(got), len(old)+1, err)
	}
	if got := l.reconciles(); !slices.Equal(got, []int64{100}) {
		t.Fatalf("reconciled from %v; want [100], the last height seen intact", got)
	}
	if v := testutil.ToFloat64(g.m.rebuilds.WithLabelValues(ReasonMissing)); v != 1 {
		t.Fatalf("rebuilds{missing} = %v", v)
	}
	if v := testutil.ToFloat64(g.m.intact); v != 1 {
		t.Fatalf("intact gauge %v after the repair", v)
	}
	g.Check(ctx) // intact again: nothing to do
	if got := l.reconciles(); len(got) != 1 {
		t.Fatalf("an intact set was reconciled again: %v", got)
	}

	// an Add that failed (Redis down) in another process: the wallet is in
	// the ledger only, and that process asks for a repair from height 102
	late := randAddrs(rng, "ltc1q", 1)[0]
	l.set(110, late)
	g.Check(ctx)
	if err := s.RequestRepair(ctx, 102); err != nil {
		t.Fatal(err)
	}
	g.Check(ctx)
	if got, _ := s.Match(ctx, []string{late}); len(got) != 1 {
		t.Fatal("the wallet whose Add failed is not watched after the repair")
	}
	if got := l.reconciles(); got[len(got)-1] != 102 {
		t.Fatalf("reconciled from %v; want 102 last", got)
	}
	if v := testutil.ToFloat64(g.m.rebuilds.WithLabelValues(ReasonRepair)); v != 1 {
		t.Fatalf("rebuilds{repair} = %v", v)
	}
	if sen, _ := s.Sentinel(ctx); sen.RepairFrom != -1 {
		t.Fatalf("the repair request was not cleared: %+v", sen)
	}

	// another process rebuilt the set (a new build id): checked, adopted, not rebuilt
	if err := s.Rebuild(ctx, seqOf(g.mustLedger(t))); err != nil {
		t.Fatal(err)
	}
	n := len(l.reconciles())
	g.Check(ctx)
	if v := testutil.ToFloat64(g.m.rebuilds.WithLabelValues(ReasonChanged)); v != 0 {
		t.Fatalf("a set equal to the ledger was rebuilt again: rebuilds{changed} = %v", v)
	}
	if got := l.reconciles(); len(got) != n+1 {
		t.Fatalf("a changed build was not reconciled: %v", got)
	}
	g.Check(ctx)
	if got := l.reconciles(); len(got) != n+1 {
		t.Fatalf("the adopted build was treated as changed again: %v", got)
	}
}

func (g *Guard) mustLedger(t *testing.T) []string {
	t.Helper()
	a, err := g.Ledger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestGuardKeepsAddsRacingItsRebuild: a wallet committed just after the
// guard listed the ledger, and added to the set by its creator, survives
// the rebuild that replaces the set with the listing.
func TestGuardKeepsAddsRacingItsRebuild(t *testing.T) {
	ctx := context.Background()
	rdb := testRedis(t)
	s := open(t, rdb, "btc", Config{Expected: 1000})
	l := &guardLedger{}
	l.set(10, "bc1qlisted")
	g := newTestGuard(t, s, l, nil)
	listed := g.Ledger
	g.Ledger = func(ctx context.Context) ([]string, error) {
		addrs, err := listed(ctx)
		// the creator's Add of a wallet the listing missed
		if err := s.Add(ctx, "bc1qracing"); err != nil {
			t.Error(err)
		}
		return addrs, err
	}
	g.Check(ctx) // no sentinel yet: a rebuild
	if got, err := s.Match(ctx, []string{"bc1qlisted", "bc1qracing"}); err != nil || len(got) != 2 {
		t.Fatalf("after the rebuild %v match (%v); want both", got, err)
	}
}

// TestGuardShrink: addresses that left the ledger's hot list (expired
// receive addresses) leave the set at Shrink, which the guard counts as its
// own build: the next check neither rebuilds nor reconciles.
func TestGuardShrink(t *testing.T) {
	ctx := context.Background()
	rdb := testRedis(t)
	s := open(t, rdb, "ltc", Config{Expected: 1000})
	l := &guardLedger{}
	l.set(10, "ltc1qkept", "ltc1qexpired")
	reg := prometheus.NewRegistry()
	g := newTestGuard(t, s, l, reg)
	if err := s.Rebuild(ctx, seqOf(g.mustLedger(t))); err != nil {
		t.Fatal(err)
	}
	g.Check(ctx) // the build is known
	l.mu.Lock()
	l.addrs = []string{"ltc1qkept"}
	l.mu.Unlock()
	if n, err := g.Shrink(ctx); err != nil || n != 1 {
		t.Fatalf("shrink: %d %v", n, err)
	}
	m, err := s.Match(ctx, []string{"ltc1qkept", "ltc1qexpired"})
	if err != nil || !slices.Equal(m, []string{"ltc1qkept"}) {
		t.Fatalf("matched %v (%v), want only the kept address", m, err)
	}
	g.Check(ctx)
	if n := testutil.ToFloat64(g.m.rebuilds.WithLabelValues(ReasonChanged)); n != 0 {
		t.Errorf("the guard took its own shrink for another build: %v changed rebuilds", n)
	}
	if n := testutil.ToFloat64(g.m.rebuilds.WithLabelValues(ReasonShrink)); n != 1 {
		t.Errorf("shrink rebuilds %v", n)
	}
	if r := l.reconciles(); len(r) != 0 {
		t.Errorf("reconciles %v after a shrink", r)
	}
}

// TestGuardComparesSizes: a set that lost members but kept its sentinel
// (an SREM, a partial restore) is still "intact"; the size comparison shows
// it: sluice_watch_addresses under sluice_watch_ledger_addresses.
func TestGuardComparesSizes(t *testing.T) {
	ctx := context.Background()
	rdb := testRedis(t)
	s := open(t, rdb, "ltc", Config{Expected: 1000})
	addrs := randAddrs(rand.New(rand.NewPCG(5, 6)), "ltc1q", 20)
	l := &guardLedger{}
	l.set(100, addrs...)
	if err := s.Rebuild(ctx, seqOf(addrs)); err != nil {
		t.Fatal(err)
	}
	g := newTestGuard(t, s, l, prometheus.NewRegistry())
	g.LedgerCount = func(context.Context) (int64, error) { return int64(len(addrs)), nil }
	g.CountEvery = time.Millisecond
	g.Check(ctx)
	if set, led := testutil.ToFloat64(s.m.addresses), testutil.ToFloat64(g.m.ledger); set != 20 || led != 20 {
		t.Fatalf("set %v, ledger %v; want 20 and 20", set, led)
	}
	if err := rdb.SRem(ctx, s.addrs, addrs[0], addrs[1]).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	g.Check(ctx)
	if v := testutil.ToFloat64(g.m.intact); v != 1 {
		t.Fatalf("intact %v: the sentinel was kept", v)
	}
	if set, led := testutil.ToFloat64(s.m.addresses), testutil.ToFloat64(g.m.ledger); set != 18 || led != 20 {
		t.Fatalf("set %v, ledger %v; want 18 under 20", set, led)
	}
}
