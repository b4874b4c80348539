package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Guard.
const (
	DefaultGuardInterval = 2 * time.Second
	DefaultGuardDepth    = 10_000
)

// Reasons a Guard repairs the set, the reason label of sluice_watch_rebuilds_total.
const (
	ReasonMissing   = "missing"   // no sentinel: Redis flushed, or restarted without its data
	ReasonChanged   = "changed"   // another build's sentinel: a restored snapshot, or another process rebuilt
	ReasonReconnect = "reconnect" // Redis answered again after errors
	ReasonRepair    = "repair"    // a process asked (RequestRepair) after an Add failed
	ReasonShrink    = "shrink"    // addresses left the ledger's hot list (expired receive addresses): Shrink
)

// Guard keeps one chain's watch set equal to the ledger while the process
// matches blocks against it. Every Interval it reads the sentinel; when the
// sentinel is gone or another build's, when Redis answers after errors, or
// when a process asked for a repair, it rebuilds the set from the ledger in
// the background (Match goes on against the old keys until one atomic rename)
// and then reconciles the blocks from the last height matched while the
// sentinel was intact, so payments matched against the lost set are found
// within seconds instead of at the next periodic reconcile.
type Guard struct {
	Set *Set
	// Ledger lists the addresses the set must hold (the ledger's wallets of the chain).
	Ledger func(ctx context.Context) ([]string, error)
	// Height is the highest block already matched against the set (the
	// indexer's checkpoint, saved after matching): blocks up to it were
	// matched before the sentinel check that follows the read.
	Height func(ctx context.Context) (int64, error)
	// Reconcile creates the deposits the chain index shows from height
	// from on that the ledger lacks, and returns how many.
	Reconcile func(ctx context.Context, from int64) (int, error)
	// Interval between sentinel checks (default 2 s).
	Interval time.Duration
	// MaxDepth bounds how far below the tip a repair reconciles (default 10,000 blocks).
	MaxDepth int64
	// LedgerCount, when set, counts the addresses Ledger lists; every
	// CountEvery (default 1 minute) the guard compares it with the set's
	// size (sluice_watch_ledger_addresses beside sluice_watch_addresses), so
	// a set that lost part of its members without losing its sentinel
	// shows, and alerts.
	LedgerCount func(ctx context.Context) (int64, error)
	CountEvery  time.Duration
	Log         *slog.Logger

	m                 *guardMetrics
	mu                sync.Mutex // one Check or Shrink at a time
	known             string     // the build last seen intact
	good              int64      // Height read just before the sentinel was last seen intact
	down, warnedError bool
	counted           time.Time // when the sizes were last compared
}

type guardMetrics struct {
	rebuilds *prometheus.CounterVec
	intact   prometheus.Gauge
	good     prometheus.Gauge
	ledger   prometheus.Gauge
}

// NewGuard returns a guard of set with its metrics registered on reg (nil
// registers nothing); the caller fills in the functions.
func NewGuard(set *Set, reg prometheus.Registerer) (*Guard, error) {
	cl := prometheus.Labels{"chain": set.chain}
	m := &guardMetrics{
		rebuilds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_watch_rebuilds_total", ConstLabels: cl,
			Help: "Rebuilds of the watch set from the ledger while running, by why the guard looked (missing, changed, reconnect, repair)."},
			[]string{"reason"}),
		intact: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_watch_intact", ConstLabels: cl,
			Help: "1 while the watch set's sentinel is the one the guard knows; 0 while Redis is unreachable or the set is being repaired."}),
		good: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_watch_intact_height", ConstLabels: cl,
			Help: "The block height matched at the last check that found the watch set intact (a repair reconciles from here)."}),
		ledger: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_watch_ledger_addresses", ConstLabels: cl,
			Help: "The ledger's wallet addresses the watch set must hold, counted with sluice_watch_addresses each minute: fewer in the set means payments to the rest are not matched."}),
	}
	for _, r := range []string{ReasonMissing, ReasonChanged, ReasonReconnect, ReasonRepair, ReasonShrink} {
		m.rebuilds.WithLabelValues(r) // at 0 from the start
	}
	if reg != nil {
		all := []prometheus.Collector{m.rebuilds, m.intact, m.good, m.ledger}
		for i, c := range all {
			if err := reg.Register(c); err != nil {
				for _, d := range all[:i] {
					reg.Unregister(d)
				}
				return nil, fmt.Errorf("watch %s: guard metrics: %w", set.chain, err)
			}
		}
	}
	return &Guard{Set: set, Interval: DefaultGuardInterval, MaxDepth: DefaultGuardDepth, m: m, good: -1}, nil
}

// Run checks the set until ctx ends; it returns nil then. Failures are
// logged and retried at the next check: it never stops the caller.
func (g *Guard) Run(ctx context.Context) error {
	if g.Interval <= 0 {
		g.Interval = DefaultGuardInterval
	}
	// A new term (or process) trusts the sentinel it finds: the set was
	// checked against the ledger at start, and whoever rebuilt it since did too.
	g.mu.Lock()
	g.known, g.down = "", false
	g.mu.Unlock()
	t := time.NewTicker(g.Interval)
	defer t.Stop()
	for {
		g.Check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Check runs one check, repairing the set when it must (Run calls it every Interval).
func (g *Guard) Check(ctx context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h, herr := g.Height(ctx)
	sen, err := g.Set.Sentinel(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if !g.down {
			g.logger().Warn("watch set unreachable; it is checked against the ledger and the blocks since height last_good are reconciled when Redis answers",
				"last_good", g.good, "err", err)
		}
		g.down = true
		g.m.intact.Set(0)
		return
	}
	reason := ""
	switch {
	case sen.Build == "":
		reason = ReasonMissing
	case g.down:
		reason = ReasonReconnect
	case g.known != "" && sen.Build != g.known:
		reason = ReasonChanged
	case sen.RepairFrom >= 0:
		reason = ReasonRepair
	}
	if reason == "" {
		g.known = sen.Build
		if herr == nil {
			g.good = h
			g.m.good.Set(float64(h))
		}
		g.m.intact.Set(1)
		g.warnedError = false
		g.compareSizes(ctx)
		return
	}
	g.m.intact.Set(0)
	if err := g.repair(ctx, reason, sen); err != nil && ctx.Err() == nil {
		// retried at the next check: the sentinel, g.down and the request are as they were
		if !g.warnedError {
			g.logger().Error("watch set repair failed; retrying", "reason", reason, "err", err)
		}
		g.warnedError = true
	}
}

// compareSizes counts the ledger's addresses and the set's members, at
// most every CountEvery. The ledger is counted first: a wallet created in
// between is in both or only in the set, never a false shortfall.
func (g *Guard) compareSizes(ctx context.Context) {
	every := g.CountEvery
	if every <= 0 {
		every = time.Minute
	}
	if g.LedgerCount == nil || time.Since(g.counted) < every {
		return
	}
	n, err := g.LedgerCount(ctx)
	if err == nil {
		_, err = g.Set.Size(ctx)
	}
	if err != nil {
		if ctx.Err() == nil {
			g.logger().Warn("comparing the watch set's size with the ledger failed", "err", err)
		}
		return
	}
	g.m.ledger.Set(float64(n))
	g.counted = time.Now()
}

func (g *Guard) repair(ctx context.Context, reason string, sen Sentinel) error {
	start := time.Now()
	from := g.good
	if sen.RepairFrom >= 0 && (from < 0 || sen.RepairFrom < from) {
		from = sen.RepairFrom
	}
	rebuild := reason == ReasonMissing
	missing, extra, addresses := 0, 0, 0
	if !rebuild {
		addrs, err := g.Ledger(ctx)
		if err != nil {
			return fmt.Errorf("list the ledger's wallets: %w", err)
		}
		if missing, extra, err = g.Set.Verify(ctx, seqOf(addrs)); err != nil {
			return err
		}
		rebuild, addresses = missing > 0 || extra > 0, len(addrs)
	}
	if rebuild {
		var err error
		if addresses, err = g.rebuild(ctx); err != nil {
			return err
		}
		g.m.rebuilds.WithLabelValues(reason).Inc()
	}
	now, err := g.Set.Sentinel(ctx)
	if err != nil {
		return err
	}
	if now.Build == "" {
		return errors.New("the watch set was lost again during its repair")
	}
	// Blocks matched from here on see the repaired set; the reconcile covers
	// every block the index holds from the last good height, those matched
	// during the repair included (the indexer writes a block before matching it).
	tip, err := g.Height(ctx)
	if err != nil {
		return err
	}
	if from < 0 || from < tip-g.MaxDepth {
		from = max(0, tip-g.MaxDepth)
	}
	n, err := g.Reconcile(ctx, from)
	if err != nil {
		return fmt.Errorf("reconcile from height %d: %w", from, err)
	}
	if sen.RepairFrom >= 0 {
		if err := g.Set.repaired(ctx, sen.RepairFrom); err != nil {
			return err
		}
	}
	g.known, g.down, g.good, g.warnedError = now.Build, false, tip, false
	g.m.good.Set(float64(tip))
	g.m.intact.Set(1)
	g.logger().Warn("watch set checked against the ledger while running", "reason", reason, "rebuilt", rebuild,
		"missing", missing, "extra", extra, "addresses", addresses, "reconciled_from", from, "deposits_found", n,
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// Shrink rebuilds the set from the ledger after addresses left its list
// (expired receive addresses), as a build of the guard's own: the next
// Check takes it as known, not as another process's. Nothing is added, so
// nothing needs reconciling.
func (g *Guard) Shrink(ctx context.Context) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, err := g.rebuild(ctx)
	if err != nil {
		return 0, err
	}
	sen, err := g.Set.Sentinel(ctx)
	if err != nil {
		return 0, err
	}
	g.known = sen.Build
	g.m.rebuilds.WithLabelValues(ReasonShrink).Inc()
	return n, nil
}

// rebuild rebuilds the set from the ledger, listed only once the rebuild has
// begun: a wallet committed after the listing is added by its creator after
// the begin, and such Adds go to the rebuild's keys too, so none is lost.
func (g *Guard) rebuild(ctx context.Context) (int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	n := 0
	err := g.Set.Rebuild(ctx, func(yield func(string) bool) {
		addrs, err := g.Ledger(ctx)
		if err != nil {
			cancel(fmt.Errorf("list the ledger's wallets: %w", err)) // Rebuild then commits nothing
			return
		}
		n = len(addrs)
		for _, a := range addrs {
			if !yield(a) {
				return
			}
		}
	})
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return 0, cause
	}
	return n, err
}

func seqOf(s []string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, v := range s {
			if !yield(v) {
				return
			}
		}
	}
}

func (g *Guard) logger() *slog.Logger {
	if g.Log == nil {
		return slog.Default().With("chain", g.Set.chain)
	}
	return g.Log
}
