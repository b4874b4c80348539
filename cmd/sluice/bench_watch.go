package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/watch"
)

// watchBenchResult is `sluice bench watch --json`; keys name their units.
type watchBenchResult struct {
	Shape            string  `json:"shape"`
	Addresses        int     `json:"addresses"`
	Batch            int     `json:"batch_candidates"`
	Hits             int     `json:"hits_per_batch"`
	Rounds           int     `json:"rounds"`
	BloomBits        uint64  `json:"bloom_bits"`
	BloomBytes       uint64  `json:"bloom_bytes"`
	BloomHashes      int     `json:"bloom_hashes"`
	FillS            float64 `json:"fill_s"`
	FillPerS         float64 `json:"fill_addresses_per_s"`
	MatchP50Ms       float64 `json:"match_p50_ms"`
	MatchP99Ms       float64 `json:"match_p99_ms"`
	MatchPerS        float64 `json:"match_candidates_per_s"`
	FPRate           float64 `json:"fp_rate_observed"`
	FPTarget         float64 `json:"fp_rate_target"`
	PingP50Ms        float64 `json:"ping_p50_ms"`
	GetbitP50Ms      float64 `json:"getbit_round_trip_p50_ms"`
	GetbitP99Ms      float64 `json:"getbit_round_trip_p99_ms"`
	BitfieldP50Ms    float64 `json:"bitfield_ro_round_trip_p50_ms"`
	RatioToLimit     float64 `json:"ratio_to_limit"`
	MatchedPerRound  float64 `json:"matched_per_batch"`
	RedisDB          int     `json:"redis_db"`
	ExpectedCapacity int64   `json:"expected_addresses"`
}

func newBenchWatchCmd() *cobra.Command {
	var (
		db, addresses, batch, hits, rounds int
		expected                           int64
		fpRate                             float64
		shape                              string
		asJSON                             bool
	)
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Match latency of the watched-address set (bloom bitmap + exact set in Redis), next to Redis's own round trips",
		Long: `Fills a scratch Redis database (--redis-db, which must be empty; it is flushed at
the end) with --addresses random addresses of --shape, then times watch.Set.Match
of --batch candidates, --hits of them watched, over --rounds batches. Measured in
the same run, as the floor:

  ping                 one PING round trip
  getbit round trip    one pipelined round trip of batch×k GETBITs at the
                       candidates' own offsets (the naive bloom probe)
  bitfield_ro          the same bits as one BITFIELD_RO GET u1 ... per candidate

ratio_to_limit is the GETBIT round trip's p50 over Match's p50 (above 1: Match,
exact-set check included, beats the naive GETBIT probe alone).`,
		Example: `  sluice bench watch
  sluice bench watch --addresses 10000000 --shape eth --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			gen := addressShape(shape)
			if gen == nil {
				return fmt.Errorf("--shape %q: use bech32, base58 or eth", shape)
			}
			if addresses < hits || batch < hits || batch <= 0 || rounds <= 0 {
				return fmt.Errorf("need --addresses >= --hits, --batch >= --hits, --batch > 0 and --rounds > 0")
			}
			if expected == 0 {
				expected = int64(addresses)
			}
			opts, err := redis.ParseURL(cfg.Redis.URL)
			if err != nil {
				return fmt.Errorf("redis URL is invalid: %w", err)
			}
			if db == opts.DB {
				return fmt.Errorf("--redis-db %d is the database sluice uses; pick a scratch database", db)
			}
			opts.DB = db
			rdb := redis.NewClient(opts)
			defer rdb.Close()
			n, err := rdb.DBSize(ctx).Result()
			if err != nil {
				return fmt.Errorf("redis db %d: %w", db, err)
			}
			if n != 0 {
				return fmt.Errorf("--redis-db %d holds %d keys; the bench flushes its database, so give it an empty one", db, n)
			}
			defer func() {
				c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				_ = rdb.FlushDB(c).Err()
			}()
			chain := map[string]string{"bech32": "btc", "base58": "btc", "eth": "eth"}[shape]
			set, err := watch.Open(ctx, rdb, chain, watch.Config{Expected: expected, FPRate: fpRate})
			if err != nil {
				return err
			}
			res, err := benchWatch(ctx, cmd, rdb, set, gen, addresses, batch, hits, rounds)
			if err != nil {
				return err
			}
			res.Shape, res.RedisDB, res.ExpectedCapacity, res.FPTarget = shape, db, expected, fpRate
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "sluice bench watch: %d %s addresses (filter for %d at %g: m=%d bits = %.1f MB, k=%d), filled in %.1f s (%.0f addresses/s)\n",
				res.Addresses, shape, expected, fpRate, res.BloomBits, float64(res.BloomBytes)/1e6, res.BloomHashes, res.FillS, res.FillPerS)
			fmt.Fprintf(out, "%d rounds of %d candidates, %d watched each; Redis db %d (flushed)\n\n", rounds, batch, hits, db)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "measurement\tp50 ms\tp99 ms\tcandidates/s\t")
			fmt.Fprintf(tw, "Match (bloom script + SMISMEMBER)\t%.2f\t%.2f\t%.0f\t\n", res.MatchP50Ms, res.MatchP99Ms, res.MatchPerS)
			fmt.Fprintf(tw, "limit: pipelined GETBIT round trip (%d cmds)\t%.2f\t%.2f\t%.0f\t\n", batch*res.BloomHashes, res.GetbitP50Ms, res.GetbitP99Ms, float64(batch)/(res.GetbitP50Ms/1e3))
			fmt.Fprintf(tw, "pipelined BITFIELD_RO round trip (%d cmds)\t%.2f\t\t%.0f\t\n", batch, res.BitfieldP50Ms, float64(batch)/(res.BitfieldP50Ms/1e3))
			fmt.Fprintf(tw, "limit: PING round trip\t%.3f\t\t\t\n", res.PingP50Ms)
			tw.Flush()
			fmt.Fprintf(out, "\nfalse-positive rate: observed %.5f, target %g; matched %.1f per batch (want %d)\n", res.FPRate, fpRate, res.MatchedPerRound, hits)
			fmt.Fprintf(out, "GETBIT round trip p50 / Match p50: %.2f\n", res.RatioToLimit)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&db, "redis-db", 14, "scratch Redis database number (must be empty; flushed at the end)")
	f.IntVar(&addresses, "addresses", 1_000_000, "watched addresses to fill in")
	f.Int64Var(&expected, "expected", 0, "addresses the filter is sized for (default --addresses)")
	f.Float64Var(&fpRate, "fp-rate", watch.DefaultFPRate, "target false-positive rate")
	f.IntVar(&batch, "batch", 10_000, "candidates per Match (one block's outputs)")
	f.IntVar(&hits, "hits", 20, "watched addresses among each batch's candidates")
	f.IntVar(&rounds, "rounds", 50, "batches to time")
	f.StringVar(&shape, "shape", "bech32", "address shape: bech32 (btc), base58 (btc) or eth")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func benchWatch(ctx context.Context, cmd *cobra.Command, rdb *redis.Client, set *watch.Set, gen func(*rand.Rand) string,
	addresses, batch, hits, rounds int) (*watchBenchResult, error) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	l := set.Layout()
	res := &watchBenchResult{Addresses: addresses, Batch: batch, Hits: hits, Rounds: rounds,
		BloomBits: l.Bits, BloomBytes: l.Bytes(), BloomHashes: l.Hashes}
	watched := make([]string, addresses)
	for i := range watched {
		watched[i] = gen(rng)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "filling %d addresses...\n", addresses)
	start := time.Now()
	for c := range slices.Chunk(watched, 100_000) {
		if err := set.Add(ctx, c...); err != nil {
			return nil, err
		}
	}
	res.FillS = time.Since(start).Seconds()
	res.FillPerS = float64(addresses) / res.FillS

	ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
	var match, getbit, bitfield, ping []time.Duration
	var matched int
	fmt.Fprintf(cmd.ErrOrStderr(), "timing %d rounds...\n", rounds)
	for range rounds {
		cand := make([]string, batch)
		for i := range cand {
			cand[i] = gen(rng)
		}
		for i := range hits {
			cand[(i*batch)/hits] = watched[rng.IntN(len(watched))]
		}
		t := time.Now()
		got, err := set.Match(ctx, cand)
		if err != nil {
			return nil, err
		}
		match = append(match, time.Since(t))
		matched += len(got)

		// The floors, on the same candidates' offsets.
		var offs []uint64
		for _, a := range cand {
			offs = append(offs, l.Offsets(a)...)
		}
		key := "watch:{" + set.Chain() + "}:bloom"
		t = time.Now()
		p := rdb.Pipeline()
		for _, o := range offs {
			p.GetBit(ctx, key, int64(o))
		}
		if _, err := p.Exec(ctx); err != nil {
			return nil, fmt.Errorf("getbit round trip: %w", err)
		}
		getbit = append(getbit, time.Since(t))
		t = time.Now()
		p = rdb.Pipeline()
		for i := 0; i < len(offs); i += l.Hashes {
			args := []any{"BITFIELD_RO", key}
			for _, o := range offs[i : i+l.Hashes] {
				args = append(args, "GET", "u1", o)
			}
			p.Do(ctx, args...)
		}
		if _, err := p.Exec(ctx); err != nil {
			return nil, fmt.Errorf("bitfield_ro round trip: %w", err)
		}
		bitfield = append(bitfield, time.Since(t))
		t = time.Now()
		if err := rdb.Ping(ctx).Err(); err != nil {
			return nil, err
		}
		ping = append(ping, time.Since(t))
	}
	var total time.Duration
	for _, d := range match {
		total += d
	}
	res.MatchP50Ms, res.MatchP99Ms = ms(quantile(match, 0.5)), ms(quantile(match, 0.99))
	res.MatchPerS = float64(batch*rounds) / total.Seconds()
	res.GetbitP50Ms, res.GetbitP99Ms = ms(quantile(getbit, 0.5)), ms(quantile(getbit, 0.99))
	res.BitfieldP50Ms = ms(quantile(bitfield, 0.5))
	res.PingP50Ms = ms(quantile(ping, 0.5))
	res.RatioToLimit = res.GetbitP50Ms / res.MatchP50Ms
	res.FPRate = set.Stats().FPRate
	res.MatchedPerRound = float64(matched) / float64(rounds)
	return res, nil
}

// quantile is the nearest-rank q-quantile of ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

const (
	bech32Chars = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	base58Chars = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	hexChars    = "0123456789abcdef"
)

func randString(rng *rand.Rand, prefix, alphabet string, n int) string {
	b := make([]byte, len(prefix), len(prefix)+n)
	copy(b, prefix)
	for range n {
		b = append(b, alphabet[rng.IntN(len(alphabet))])
	}
	return string(b)
}

// addressShape makes random addresses that look like real ones of the shape
// (their checksums are not valid: the watch set does not care), or nil.
func addressShape(shape string) func(*rand.Rand) string {
	switch shape {
	case "bech32":
		return func(r *rand.Rand) string { return randString(r, "bc1q", bech32Chars, 38) }
	case "base58":
		return func(r *rand.Rand) string { return randString(r, "1", base58Chars, 33) }
	case "eth":
		return func(r *rand.Rand) string { return randString(r, "0x", hexChars, 40) }
	}
	return nil
}
