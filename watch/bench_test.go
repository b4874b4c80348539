package watch

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
)

// BenchmarkMatch10k: one block's worth of outputs, 10,000 candidates of which
// 20 are watched, against 1,000,000 watched addresses (a filter sized for 1M
// at 0.1 %). Filling Redis takes a few seconds, once per run.
func BenchmarkMatch10k(b *testing.B) {
	rdb := testRedis(b)
	ctx := context.Background()
	s := open(b, rdb, "btc", Config{Expected: 1_000_000, FPRate: 0.001})
	rng := rand.New(rand.NewPCG(1, 1))
	watched := randAddrs(rng, "bc1q", 1_000_000)
	for c := range slices.Chunk(watched, 100_000) {
		if err := s.Add(ctx, c...); err != nil {
			b.Fatal(err)
		}
	}
	batches := make([][]string, 16)
	for i := range batches {
		batches[i] = randAddrs(rng, "bc1q", 10_000)
		for j := range 20 {
			batches[i][rng.IntN(10_000)] = watched[i*20+j]
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		got, err := s.Match(ctx, batches[i%len(batches)])
		if err != nil || len(got) == 0 {
			b.Fatal(len(got), err)
		}
		i++
	}
	st := s.Stats()
	b.ReportMetric(st.FPRate, "fp_rate")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/batch")
}
