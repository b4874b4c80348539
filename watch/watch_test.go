package watch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/sluicepay/sluice/internal/testenv"
)

// testDB is this package's Redis database on the test stack; tests flush it.
const testDB = 13

func testRedis(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testenv.Get(t, "SLUICE_REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	opts.DB = testDB
	rdb := redis.NewClient(opts)
	t.Cleanup(func() {
		rdb.FlushDB(context.Background())
		rdb.Close()
	})
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("flush test db %d: %v", testDB, err)
	}
	return rdb
}

func open(t testing.TB, rdb *redis.Client, chain string, cfg Config) *Set {
	t.Helper()
	s, err := Open(context.Background(), rdb, chain, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

const alnum = "023456789acdefghjklmnpqrstuvwxyz"

// randAddrs returns n distinct bech32-shaped addresses.
func randAddrs(rng *rand.Rand, prefix string, n int) []string {
	out := make([]string, n)
	b := make([]byte, 38)
	for i := range out {
		for j := range b {
			b[j] = alnum[rng.IntN(len(alnum))]
		}
		out[i] = prefix + string(b)
	}
	return out
}

func TestLayoutFor(t *testing.T) {
	for _, c := range []struct {
		n    int64
		p    float64
		m    uint64
		k    int
		fail string
	}{
		{n: 10_000_000, p: 0.001, m: 143_775_876, k: 10},
		{n: 1_000_000, p: 0.001, m: 14_377_588, k: 10},
		{n: 1000, p: 0.01, m: 9586, k: 7},
		{n: 1, p: 0.5, m: 64, k: 1},
		{n: 0, p: 0.01, fail: "must be positive"},
		{n: 10, p: 0, fail: "between 0 and 1"},
		{n: 10, p: 1, fail: "between 0 and 1"},
		{n: 1_000_000_000, p: 0.001, fail: "2^32 bits"},
	} {
		l, err := LayoutFor(c.n, c.p)
		if c.fail != "" {
			if err == nil || !strings.Contains(err.Error(), c.fail) {
				t.Errorf("LayoutFor(%d, %g) = %v, %v; want error with %q", c.n, c.p, l, err, c.fail)
			}
			continue
		}
		if err != nil || l.Bits != c.m || l.Hashes != c.k {
			t.Errorf("LayoutFor(%d, %g) = %+v, %v; want m=%d k=%d", c.n, c.p, l, err, c.m, c.k)
		}
	}
	// The layout must not change between releases: bitmaps in Redis depend on it.
	l := Layout{Bits: 1000, Hashes: 4}
	if got := l.Offsets("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"); len(got) != 4 || slices.ContainsFunc(got, func(o uint64) bool { return o >= 1000 }) {
		t.Fatalf("offsets out of range: %v", got)
	}
}

func TestOpenRefusesBadInput(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	for _, chain := range []string{"", "BTC", "b t c", strings.Repeat("x", 40)} {
		if _, err := Open(ctx, rdb, chain, Config{}); err == nil {
			t.Errorf("Open(%q) succeeded", chain)
		}
	}
	if _, err := Open(ctx, rdb, "btc", Config{FPRate: 2}); err == nil || !strings.Contains(err.Error(), "watch btc: open") {
		t.Errorf("Open with FP rate 2: %v", err)
	}
}

// The scripts walk the same offsets as Layout.Offsets documents.
func TestScriptOffsetsMatchGo(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	s := open(t, rdb, "btc", Config{Expected: 1000, FPRate: 0.01})
	addrs := randAddrs(rand.New(rand.NewPCG(1, 2)), "bc1q", 200)
	if err := s.Add(ctx, addrs...); err != nil {
		t.Fatal(err)
	}
	set := map[uint64]bool{}
	pipe := rdb.Pipeline()
	var cmds []*redis.IntCmd
	for _, a := range addrs {
		for _, o := range s.Layout().Offsets(a) {
			set[o] = true
			cmds = append(cmds, pipe.GetBit(ctx, s.bloom, int64(o)))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i, c := range cmds {
		if c.Val() != 1 {
			t.Fatalf("bit %d of the Go walk is not set by the Lua walk", i)
		}
	}
	if n := rdb.BitCount(ctx, s.bloom, nil).Val(); n != int64(len(set)) {
		t.Fatalf("bitmap has %d bits set, the Go walk gives %d distinct offsets", n, len(set))
	}
	if n := rdb.StrLen(ctx, s.bloom).Val(); uint64(n) > s.Layout().Bytes() {
		t.Fatalf("bitmap is %d bytes, layout says %d", n, s.Layout().Bytes())
	}
}

func TestAddMatchExact(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	btc := open(t, rdb, "btc", Config{Expected: 10_000, FPRate: 0.001})
	eth := open(t, rdb, "eth", Config{Expected: 10_000, FPRate: 0.001})
	rng := rand.New(rand.NewPCG(3, 4))
	watched := randAddrs(rng, "bc1q", 1000)
	others := randAddrs(rng, "bc1q", 5000)
	if err := btc.Add(ctx, watched...); err != nil {
		t.Fatal(err)
	}
	// Candidates: watched ones interleaved with unwatched ones, duplicates and empties.
	var cand, want []string
	for i, o := range others {
		cand = append(cand, o)
		if i%5 == 0 {
			w := watched[i/5]
			cand = append(cand, w, "", w)
			want = append(want, w)
		}
	}
	got, err := btc.Match(ctx, cand)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Match returned %d addresses, want %d (first got %v)", len(got), len(want), got[:min(3, len(got))])
	}
	if got, err := btc.Match(ctx, others); err != nil || len(got) != 0 {
		t.Fatalf("unwatched: %v, %v", got, err)
	}
	for _, c := range [][]string{nil, {}, {""}} {
		if got, err := btc.Match(ctx, c); err != nil || got != nil {
			t.Fatalf("Match(%q) = %v, %v", c, got, err)
		}
	}
	// The chains do not share sets.
	if got, _ := eth.Match(ctx, watched[:10]); len(got) != 0 {
		t.Fatalf("eth set matched btc addresses: %v", got)
	}
	// Ethereum addresses are kept in lower case; checksummed input matches.
	if err := eth.Add(ctx, "0x52908400098527886E0F7030069857D2E4169EE7"); err != nil {
		t.Fatal(err)
	}
	got, err = eth.Match(ctx, []string{"0x8617e340b3d01fa5f11f306f4090fd50e238070d", "0x52908400098527886e0f7030069857d2e4169ee7", "0x52908400098527886E0F7030069857D2E4169EE7"})
	if err != nil || !slices.Equal(got, []string{"0x52908400098527886e0f7030069857d2e4169ee7"}) {
		t.Fatalf("eth Match = %v, %v", got, err)
	}
	// Exact strings elsewhere: case matters for base58.
	if got, _ := btc.Match(ctx, []string{strings.ToUpper(watched[0])}); len(got) != 0 {
		t.Fatalf("btc matched an upper-cased address")
	}
	err = btc.Add(ctx, "bc1qfoo", "")
	if err == nil || !strings.Contains(err.Error(), "watch btc: add: address 2 of 2 is empty") {
		t.Fatalf("Add with an empty address: %v", err)
	}
	if ok, _ := rdb.SIsMember(ctx, btc.addrs, "bc1qfoo").Result(); ok {
		t.Fatal("a refused Add wrote part of its input")
	}
	if err := btc.Add(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestAddIdempotent(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	s := open(t, rdb, "ltc", Config{Expected: 10_000})
	addrs := randAddrs(rand.New(rand.NewPCG(5, 6)), "ltc1q", 3000)
	if err := s.Add(ctx, addrs...); err != nil {
		t.Fatal(err)
	}
	bits, card := rdb.BitCount(ctx, s.bloom, nil).Val(), rdb.SCard(ctx, s.addrs).Val()
	if err := s.Add(ctx, append(addrs[:1000:1000], addrs...)...); err != nil {
		t.Fatal(err)
	}
	if b, c := rdb.BitCount(ctx, s.bloom, nil).Val(), rdb.SCard(ctx, s.addrs).Val(); b != bits || c != card || c != 3000 {
		t.Fatalf("after a second Add: %d bits, %d members; before: %d bits, %d members", b, c, bits, card)
	}
}

// Pipelines are chunked: tiny chunks make many script calls and round trips.
func TestHugeListsChunked(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	s := open(t, rdb, "btc", Config{Expected: 50_000, ChunkSize: 1})
	rng := rand.New(rand.NewPCG(7, 8))
	watched := randAddrs(rng, "bc1q", 25_000)
	if err := s.Add(ctx, watched...); err != nil {
		t.Fatal(err)
	}
	cand := append(randAddrs(rng, "bc1q", 25_000), watched...)
	rng.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	got, err := s.Match(ctx, cand)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(watched) {
		t.Fatalf("matched %d of %d", len(got), len(watched))
	}
}

func TestFalsePositiveRate(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	const n, p = 100_000, 0.001
	s := open(t, rdb, "btc", Config{Expected: n, FPRate: p})
	rng := rand.New(rand.NewPCG(9, 10))
	if err := s.Add(ctx, randAddrs(rng, "bc1q", n)...); err != nil {
		t.Fatal(err)
	}
	probe := randAddrs(rng, "bc1p", 200_000)
	for c := range slices.Chunk(probe, 10_000) {
		got, err := s.Match(ctx, c)
		if err != nil || len(got) != 0 {
			t.Fatalf("random non-members matched: %v, %v", got, err)
		}
	}
	st := s.Stats()
	// 200 false positives expected (sd ≈ 14): 0.6 p .. 1.5 p is far outside noise.
	if st.Candidates != 200_000 || st.Matches != 0 || st.FPRate < 0.6*p || st.FPRate > 1.5*p || st.Alarm {
		t.Fatalf("stats %+v; want FP rate near %g", st, p)
	}
	t.Logf("observed FP rate %.5f over %d non-members (target %g, %d bloom hits)", st.FPRate, st.Candidates, p, st.BloomHits)
}

func TestLayoutMismatch(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	old := open(t, rdb, "btc", Config{Expected: 1000, FPRate: 0.01})
	addrs := randAddrs(rand.New(rand.NewPCG(11, 12)), "bc1q", 500)
	if err := old.Add(ctx, addrs...); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, rdb, "btc", Config{Expected: 2000, FPRate: 0.01})
	var le *LayoutError
	if !errors.Is(err, ErrLayoutMismatch) || !errors.As(err, &le) || le.Chain != "btc" || le.InRedis != old.Layout().String() {
		t.Fatalf("second layout: %v", err)
	}
	t.Log(err)
	// Same parameters: fine. Another chain: its own layout.
	open(t, rdb, "btc", Config{Expected: 1000, FPRate: 0.01})
	open(t, rdb, "ltc", Config{Expected: 2000, FPRate: 0.01})

	// Asked to, Open rebuilds the bitmap from the exact set in the new layout;
	// the old process then gets errors, not wrong answers.
	nu := open(t, rdb, "btc", Config{Expected: 2000, FPRate: 0.01, RebuildOnMismatch: true})
	got, err := nu.Match(ctx, addrs)
	if err != nil || len(got) != len(addrs) {
		t.Fatalf("after the rebuild: %d of %d matched, %v", len(got), len(addrs), err)
	}
	if _, err := old.Match(ctx, addrs); !errors.Is(err, ErrLayoutMismatch) {
		t.Fatalf("Match with the old layout: %v", err)
	}
	if err := old.Add(ctx, "bc1qnew"); !errors.Is(err, ErrLayoutMismatch) {
		t.Fatalf("Add with the old layout: %v", err)
	}
	if ok, _ := rdb.SIsMember(ctx, nu.addrs, "bc1qnew").Result(); ok {
		t.Fatal("a refused Add wrote to the set")
	}
}

// A reader matching in a loop during rebuilds never misses an address that is
// in the set before and after; an Add racing a rebuild is kept.
func TestRebuildAtomic(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	s := open(t, rdb, "btc", Config{Expected: 50_000, ChunkSize: 200})
	rng := rand.New(rand.NewPCG(13, 14))
	stay, gone, come := randAddrs(rng, "bc1q", 5000), randAddrs(rng, "bc1q", 5000), randAddrs(rng, "bc1q", 5000)
	if err := s.Add(ctx, append(slices.Clone(stay), gone...)...); err != nil {
		t.Fatal(err)
	}
	cand := append(append(slices.Clone(stay[:1000]), gone[:1000]...), come[:1000]...)

	var stop atomic.Bool
	var rounds atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() {
		for !stop.Load() {
			got, err := s.Match(ctx, cand)
			if err != nil {
				errc <- err
				return
			}
			m := make(map[string]bool, len(got))
			for _, a := range got {
				m[a] = true
			}
			for _, a := range stay[:1000] {
				if !m[a] {
					errc <- fmt.Errorf("round %d: %s missed during a rebuild", rounds.Load(), a)
					return
				}
			}
			rounds.Add(1)
		}
	})
	for i := range 6 {
		want := stay
		if i%2 == 0 {
			want = append(slices.Clone(stay), come...)
		}
		added := fmt.Sprintf("bc1qadded%d", i)
		err := s.Rebuild(ctx, func(yield func(string) bool) {
			for j, a := range want {
				if j == len(want)/2 {
					if err := s.Add(ctx, added); err != nil {
						t.Error(err)
					}
				}
				if j%500 == 0 {
					time.Sleep(3 * time.Millisecond) // let the reader overlap
				}
				if !yield(a) {
					return
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Match(ctx, []string{added}); err != nil || len(got) != 1 {
			t.Fatalf("rebuild %d lost the address added during it: %v, %v", i, got, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	t.Logf("%d reader rounds during 6 rebuilds", rounds.Load())
	got, _ := s.Match(ctx, cand)
	if len(got) != 1000 {
		t.Fatalf("after the last rebuild %d matched, want %d", len(got), len(stay))
	}
	// No temporary keys are left behind.
	if keys := rdb.Keys(ctx, "*tmp*").Val(); len(keys) != 0 {
		t.Fatalf("left behind: %v", keys)
	}
	if f := rdb.HGetAll(ctx, s.params).Val(); f["rebuild"] != "" || f["layout"] != s.Layout().String() {
		t.Fatalf("params after rebuilds: %v", f)
	}
}

func TestFlushSurvived(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	s := open(t, rdb, "btc", Config{Expected: 10_000, Registerer: reg})
	addrs := randAddrs(rand.New(rand.NewPCG(15, 16)), "bc1q", 2000)
	if err := s.Add(ctx, addrs...); err != nil {
		t.Fatal(err)
	}
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Match(ctx, addrs)
	if err != nil || len(got) != 0 {
		t.Fatalf("Match after FLUSHDB = %d addresses, %v; want none, no error", len(got), err)
	}
	if v := testutil.ToFloat64(s.m.missing); v != 1 {
		t.Fatalf("sluice_watch_bloom_missing_total = %v", v)
	}
	missing, extra, err := s.Verify(ctx, slices.Values(addrs))
	if err != nil || missing != len(addrs) || extra != 0 {
		t.Fatalf("Verify after FLUSHDB = %d missing, %d extra, %v", missing, extra, err)
	}
	// Add works again (and re-records the layout); the reconciler rebuilds.
	if err := s.Add(ctx, addrs[0]); err != nil {
		t.Fatal(err)
	}
	if missing, extra, _ := s.Verify(ctx, slices.Values(addrs)); missing != len(addrs)-1 || extra != 0 {
		t.Fatalf("Verify after one Add: %d missing, %d extra", missing, extra)
	}
	if err := s.Rebuild(ctx, slices.Values(addrs[1:])); err != nil {
		t.Fatal(err)
	}
	if missing, extra, _ := s.Verify(ctx, slices.Values(addrs)); missing != 1 || extra != 0 {
		t.Fatalf("Verify after Rebuild without addrs[0]: %d missing, %d extra", missing, extra)
	}
	if missing, extra, _ := s.Verify(ctx, slices.Values(addrs[2:])); missing != 0 || extra != 1 {
		t.Fatalf("Verify of a shorter list: %d missing, %d extra", missing, extra)
	}
	if got, _ := s.Match(ctx, addrs); len(got) != len(addrs)-1 {
		t.Fatalf("after the rebuild %d matched", len(got))
	}

	// A FLUSHDB in the middle of a rebuild fails it, leaving nothing behind.
	err = s.Rebuild(ctx, func(yield func(string) bool) {
		for i, a := range addrs {
			if i == 500 {
				rdb.FlushDB(ctx)
			}
			if !yield(a) {
				return
			}
		}
	})
	if err == nil || !strings.Contains(err.Error(), "watch btc: rebuild") {
		t.Fatalf("rebuild across a FLUSHDB: %v", err)
	}
	t.Log(err)
	if keys := rdb.Keys(ctx, "*").Val(); len(keys) != 0 {
		t.Fatalf("keys after a failed rebuild: %v", keys)
	}
	if err := s.Rebuild(ctx, slices.Values(addrs)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Match(ctx, addrs); len(got) != len(addrs) {
		t.Fatalf("after the second rebuild %d matched", len(got))
	}
	// An empty rebuild empties the set.
	if err := s.Rebuild(ctx, slices.Values([]string(nil))); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Match(ctx, addrs); len(got) != 0 {
		t.Fatalf("after an empty rebuild %d matched", len(got))
	}
}

func TestConcurrentRebuildRefused(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	s := open(t, rdb, "btc", Config{Expected: 1000})
	var inner error
	err := s.Rebuild(ctx, func(yield func(string) bool) {
		inner = s.Rebuild(ctx, slices.Values([]string{"x"}))
		yield("bc1qa")
	})
	if err != nil || inner == nil || !strings.Contains(inner.Error(), "another rebuild") {
		t.Fatalf("outer %v, inner %v", err, inner)
	}
}

func TestMetrics(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	// Sized for 10 addresses, given 5000: the filter is overfull.
	s := open(t, rdb, "btc", Config{Expected: 10, FPRate: 0.001, Registerer: reg})
	if _, err := Open(ctx, rdb, "btc", Config{Expected: 10, FPRate: 0.001, Registerer: reg}); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("second registration: %v", err)
	}
	rng := rand.New(rand.NewPCG(17, 18))
	watched := randAddrs(rng, "bc1q", 5000)
	if err := s.Add(ctx, watched...); err != nil {
		t.Fatal(err)
	}
	cand := append(randAddrs(rng, "bc1q", 20_000), watched[:20]...)
	got, err := s.Match(ctx, cand)
	if err != nil || len(got) != 20 {
		t.Fatalf("Match: %d, %v", len(got), err)
	}
	st := s.Stats()
	fp := float64(st.BloomHits-20) / float64(20_000)
	for name, want := range map[string]float64{
		"sluice_watch_candidates_total": 20_020,
		"sluice_watch_matches_total":    20,
		"sluice_watch_bloom_hits_total": float64(st.BloomHits),
		"sluice_watch_addresses":        5000,
		"sluice_watch_bloom_bits":       float64(s.Layout().Bits),
		"sluice_watch_bloom_hashes":     float64(s.Layout().Hashes),
		"sluice_watch_fp_rate":          fp,
		"sluice_watch_fp_rate_target":   0.001,
		"sluice_watch_fp_rate_alarm":    1,
	} {
		exp := fmt.Sprintf("# HELP %s x\n# TYPE %s %s\n%s{chain=\"btc\"} %v\n", name, name,
			map[bool]string{true: "counter", false: "gauge"}[strings.HasSuffix(name, "_total")], name, want)
		// Compare the value only: help strings are checked for presence below.
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			found = true
			if mf.GetHelp() == "" {
				t.Errorf("%s has no help", name)
			}
			m := mf.GetMetric()[0]
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			if v != want || m.GetLabel()[0].GetValue() != "btc" {
				t.Errorf("%s = %v, want %v (%s)", name, v, want, exp)
			}
		}
		if !found {
			t.Errorf("%s not registered", name)
		}
	}
	if fp < 0.5 {
		t.Fatalf("an overfull filter should pass most non-members, FP rate %v", fp)
	}
	if n, err := testutil.GatherAndCount(reg, "sluice_watch_match_duration_seconds"); err != nil || n != 1 {
		t.Fatalf("duration histogram: %d, %v", n, err)
	}
	// A well-sized filter clears the alarm once the window has moved on.
	s.Close()
	reg2 := prometheus.NewRegistry()
	ok := open(t, rdb, "ltc", Config{Expected: 100_000, FPRate: 0.001, Registerer: reg2, FPWindow: 20_000})
	if _, err := ok.Match(ctx, randAddrs(rng, "ltc1", 30_000)); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(ok.m.alarm); v != 0 {
		t.Fatalf("alarm on an empty filter: %v", v)
	}
	if v := testutil.ToFloat64(ok.m.fpRate); v != 0 {
		t.Fatalf("observed FP rate on an empty filter: %v", v)
	}
}

func TestWindowSlides(t *testing.T) {
	w := newWindow(6400, 0.001) // 64 buckets of 100
	for range 100 {
		w.add(100, 100, 0) // all false positives
	}
	if r, a := w.rateLocked(); r != 1 || !a {
		t.Fatalf("rate %v alarm %v; want 1, alarm", r, a)
	}
	for range 64 {
		w.add(100, 0, 0)
	}
	if r, a := w.rateLocked(); r != 0 || a {
		t.Fatalf("rate %v alarm %v after the window slid past the bad candidates", r, a)
	}
	// Matches are not negatives: (hits - matches) / (candidates - matches).
	w.add(100, 60, 50)
	if r, _ := w.rateLocked(); r != 10.0/(6400-50) {
		t.Fatalf("rate %v", r)
	}
	// A big window waits for 10,000 negatives before it raises the alarm.
	w2 := newWindow(1_000_000, 0.001)
	if r, a := w2.add(5000, 100, 0); r != 0.02 || a {
		t.Fatalf("rate %v alarm %v on 5,000 negatives", r, a)
	}
	if r, a := w2.add(15_000, 200, 0); r != 0.015 || !a {
		t.Fatalf("rate %v alarm %v on 20,000 negatives", r, a)
	}
}
