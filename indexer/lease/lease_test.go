package lease

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicepay/sluice/indexer"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/internal/testledger"
)

func TestKey(t *testing.T) {
	seen := map[int64]string{}
	for _, c := range []string{"btc", "ltc", "eth", "btc_bench"} {
		k := Key(c)
		if k != Key(c) {
			t.Fatalf("Key(%q) is not stable", c)
		}
		if other, dup := seen[k]; dup {
			t.Fatalf("Key(%q) == Key(%q)", c, other)
		}
		seen[k] = c
		hi, lo := halves(k)
		if hi < 0 || lo < 0 || hi > 0xffffffff || lo > 0xffffffff || int64(uint64(hi)<<32|uint64(lo)) != k {
			t.Fatalf("halves(%d) = %d, %d", k, hi, lo)
		}
	}
}

// contender is one process's lease on a chain, run in the test.
type contender struct {
	name    string
	lease   *Lease
	metrics *Metrics
	cancel  context.CancelFunc
	done    chan error
	terms   chan Term // each term, when its work starts
	ended   chan struct{}
}

// race runs contenders for one chain and records how many are active at
// once: work is the indexer, which must never run twice at the same time.
type race struct {
	t   *testing.T
	dsn string

	mu      sync.Mutex
	active  int
	maxSeen int
}

func (r *race) add(d int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active += d
	r.maxSeen = max(r.maxSeen, r.active)
}

func (r *race) counts() (active, maxSeen int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active, r.maxSeen
}

func (r *race) start(name string) *contender {
	r.t.Helper()
	m := NewMetrics(prometheus.NewRegistry())
	l, err := New(Options{DSN: r.dsn, Chain: "ltc", Poll: 100 * time.Millisecond, Metrics: m, Name: "lease-test " + name,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &contender{name: name, lease: l, metrics: m, cancel: cancel, done: make(chan error, 1),
		terms: make(chan Term, 10), ended: make(chan struct{}, 10)}
	go func() {
		c.done <- l.Run(ctx, func(ctx context.Context, t Term) error {
			r.add(1)
			c.terms <- t
			<-ctx.Done()
			r.add(-1)
			c.ended <- struct{}{}
			return nil
		})
	}()
	r.t.Cleanup(func() {
		cancel()
		<-c.done
	})
	return c
}

func (c *contender) leader() float64 {
	return testutil.ToFloat64(c.metrics.leader.WithLabelValues("ltc"))
}

func (c *contender) term(t *testing.T, within time.Duration) (Term, bool) {
	t.Helper()
	select {
	case tm := <-c.terms:
		return tm, true
	case <-time.After(within):
		return Term{}, false
	}
}

// TestOneActiveThenTakeover: of two contenders exactly one is active; when
// it stops, the standby takes over within a couple of poll intervals.
func TestOneActiveThenTakeover(t *testing.T) {
	r := &race{t: t, dsn: testenv.FreshPostgres(t)}
	a := r.start("a")
	if _, ok := a.term(t, 5*time.Second); !ok {
		t.Fatal("the only contender never became active")
	}
	b := r.start("b")
	if _, ok := b.term(t, time.Second); ok {
		t.Fatal("a second contender became active while the first holds the lease")
	}
	if a.leader() != 1 || b.leader() != 0 {
		t.Fatalf("sluice_index_leader: a %v, b %v; want 1, 0", a.leader(), b.leader())
	}
	start := time.Now()
	a.cancel()
	if err := <-a.done; err != nil {
		t.Fatalf("a: %v", err)
	}
	a.done <- nil // for the cleanup
	if _, ok := b.term(t, 3*time.Second); !ok {
		t.Fatal("the standby did not take over within 3s of the holder stopping")
	}
	t.Logf("takeover after %s", time.Since(start).Round(time.Millisecond))
	if b.leader() != 1 || a.leader() != 0 {
		t.Fatalf("sluice_index_leader after the takeover: a %v, b %v; want 0, 1", a.leader(), b.leader())
	}
	if _, m := r.counts(); m != 1 {
		t.Fatalf("%d contenders were active at once", m)
	}
}

// TestLeaseLostStopsWork ends the holder's lease session from outside, as a
// Postgres restart or a network cut would: the holder's work must stop, it
// stands by, and the other contender takes over, never both at once.
func TestLeaseLostStopsWork(t *testing.T) {
	r := &race{t: t, dsn: testenv.FreshPostgres(t)}
	a := r.start("a")
	ta, ok := a.term(t, 5*time.Second)
	if !ok {
		t.Fatal("never active")
	}
	b := r.start("b")
	time.Sleep(300 * time.Millisecond) // b stands by

	ctx := context.Background()
	admin, err := pgx.Connect(ctx, r.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed bool
	if err := admin.QueryRow(ctx, "SELECT pg_terminate_backend($1)", int32(ta.PID)).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate the lease session: %v %v", killed, err)
	}
	start := time.Now()
	select {
	case <-a.ended:
		t.Logf("the holder stopped %s after its session ended", time.Since(start).Round(time.Millisecond))
	case <-time.After(2 * time.Second):
		t.Fatal("the holder kept working 2s after losing its lease")
	}
	// the gauge drops when the work has returned, just after it signalled
	for deadline := time.Now().Add(time.Second); a.leader() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("sluice_index_leader stayed 1 after the lease was lost")
		}
	}
	// whoever gets the lease next (b, or a again), exactly one is active
	var next *contender
	select {
	case <-b.terms:
		next = b
	case <-a.terms:
		next = a
	case <-time.After(3 * time.Second):
		t.Fatal("nobody took the lease over")
	}
	t.Logf("%s took over %s after the loss", next.name, time.Since(start).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	active, m := r.counts()
	if a.leader()+b.leader() != 1 || active != 1 {
		t.Fatalf("after the takeover: leaders a %v b %v, active %d", a.leader(), b.leader(), active)
	}
	if m != 1 {
		t.Fatalf("%d contenders were active at once", m)
	}
}

// TestFencedCheckpoint: a checkpoint saved under a lease moves only while
// the lease session holds the lock.
func TestFencedCheckpoint(t *testing.T) {
	dsn := testledger.DSN(t)
	db := testledger.Open(t, dsn)
	ctx := context.Background()
	l, err := New(Options{DSN: dsn, Chain: "ltc", Poll: 100 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := l.connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer closeConn(conn)
	if ok, err := l.try(ctx, conn); err != nil || !ok {
		t.Fatalf("take the lock: %v %v", ok, err)
	}
	cps := indexer.PGCheckpoints{DB: db, Fence: &indexer.AdvisoryFence{Key: Key("ltc"), PID: conn.PgConn().PID()}}
	if err := cps.Save(ctx, "ltc", indexer.Ref{Height: 5, Hash: "h5"}); err != nil {
		t.Fatalf("save under the lease: %v", err)
	}
	if err := cps.Save(ctx, "ltc", indexer.Ref{Height: 6, Hash: "h6"}); err != nil {
		t.Fatalf("save again under the lease: %v", err)
	}
	// another chain's lock, or another session, does not count
	other := indexer.PGCheckpoints{DB: db, Fence: &indexer.AdvisoryFence{Key: Key("btc"), PID: conn.PgConn().PID()}}
	if err := other.Save(ctx, "ltc", indexer.Ref{Height: 7, Hash: "h7"}); !errors.Is(err, indexer.ErrFenced) {
		t.Fatalf("save under another chain's key: %v, want ErrFenced", err)
	}
	if err := l.holds(ctx, conn); err != nil {
		t.Fatalf("holds: %v", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", Key("ltc")); err != nil {
		t.Fatal(err)
	}
	if err := l.holds(ctx, conn); err == nil {
		t.Fatal("holds says yes after the unlock")
	}
	if err := cps.Save(ctx, "ltc", indexer.Ref{Height: 8, Hash: "h8"}); !errors.Is(err, indexer.ErrFenced) {
		t.Fatalf("save after the lease was lost: %v, want ErrFenced", err)
	}
	got, ok, err := cps.Load(ctx, "ltc")
	if err != nil || !ok || got.Height != 6 || got.Hash != "h6" {
		t.Fatalf("checkpoint %+v %v %v; want height 6 h6", got, ok, err)
	}
}

// TestStandbyNamesHolder: a standby can tell who holds the lease.
func TestStandbyNamesHolder(t *testing.T) {
	dsn := testenv.FreshPostgres(t)
	ctx := context.Background()
	mk := func(name string) *Lease {
		l, err := New(Options{DSN: dsn, Chain: "eth", Name: name, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	holder, standby := mk("sluice-indexer host=alpha pid=42"), mk("sluice-indexer host=beta pid=7")
	hc, err := holder.connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer closeConn(hc)
	sc, err := standby.connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer closeConn(sc)
	if h := standby.holder(ctx, sc); h != "" {
		t.Fatalf("holder of a free lease: %q", h)
	}
	if ok, _ := holder.try(ctx, hc); !ok {
		t.Fatal("the holder did not get the lock")
	}
	if ok, _ := standby.try(ctx, sc); ok {
		t.Fatal("both got the lock")
	}
	h := standby.holder(ctx, sc)
	if want := "sluice-indexer host=alpha pid=42"; len(h) < len(want) || h[:len(want)] != want {
		t.Fatalf("holder %q, want it to start with %q", h, want)
	}
	t.Log(h)
}
