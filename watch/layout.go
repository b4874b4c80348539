package watch

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	chainreg "github.com/sluicepay/sluice/chain"
)

// Defaults of Config.
const (
	DefaultExpected  = 10_000_000
	DefaultFPRate    = 0.001
	DefaultFPWindow  = 1_000_000
	DefaultChunkSize = 1000
	// MaxBits is the largest bitmap Redis holds (a string is at most 512 MB).
	MaxBits = 1 << 32
	// hashName names the hash and the probe walk; it is part of the layout, so
	// a change here refuses to open an old bitmap instead of misreading it.
	hashName = "sha256-edh"
	// maxCommands caps the commands of one pipelined round trip.
	maxCommands = 10_000
	// rebuildTTL is how long the temporary keys of a dead rebuild survive.
	rebuildTTL = 10 * time.Minute
)

// Config sizes the bloom filter of one chain and says where its metrics go.
//
// Memory: the bitmap takes m/8 bytes per chain, m = -n·ln(p)/ln(2)², with n =
// Expected and p = FPRate; the defaults (10M addresses, 0.001) give m =
// 143,775,876 bits = 18.0 MB and k = 10 hashes. 1M addresses at 0.001 take
// 1.8 MB. The exact set costs about 60-90 bytes per address on top.
type Config struct {
	Expected int64   // addresses the filter is sized for (default 10,000,000)
	FPRate   float64 // target false-positive rate at Expected addresses (default 0.001)

	// Registerer receives the metrics (labelled chain=...); nil registers nothing.
	Registerer prometheus.Registerer
	// FPWindow is the number of candidates the observed FP rate is computed
	// over (default 1,000,000).
	FPWindow int64
	// ChunkSize is the number of addresses per Redis script call (default 1000):
	// small enough that one call blocks Redis for about a millisecond.
	ChunkSize int
	// RebuildOnMismatch makes Open rebuild the bitmap with this Config's layout
	// from the exact set when Redis holds a different one, instead of refusing.
	// Processes still on the old layout then get errors from Add and Match
	// (never wrong answers) until they are restarted with the new Config.
	RebuildOnMismatch bool
}

func (c Config) withDefaults() Config {
	if c.Expected == 0 {
		c.Expected = DefaultExpected
	}
	if c.FPRate == 0 {
		c.FPRate = DefaultFPRate
	}
	if c.FPWindow == 0 {
		c.FPWindow = DefaultFPWindow
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = DefaultChunkSize
	}
	return c
}

// Layout is the shape of the bitmap: every process using one bitmap must use
// the same Layout.
type Layout struct {
	Bits   uint64 // m
	Hashes int    // k
}

// String is the layout's identity as stored in Redis (watch:{chain}:params layout).
func (l Layout) String() string {
	return fmt.Sprintf("v1 hash=%s m=%d k=%d", hashName, l.Bits, l.Hashes)
}

// Bytes is the size of the bitmap in Redis.
func (l Layout) Bytes() uint64 { return (l.Bits + 7) / 8 }

// LayoutFor computes m and k for n expected addresses at false-positive rate p
// by the standard formulas m = ceil(-n·ln p / ln²2), k = round(m/n · ln 2).
func LayoutFor(n int64, p float64) (Layout, error) {
	if n <= 0 {
		return Layout{}, fmt.Errorf("expected addresses must be positive, got %d", n)
	}
	if !(p > 0 && p < 1) {
		return Layout{}, fmt.Errorf("false-positive rate must be between 0 and 1 (exclusive), got %g", p)
	}
	m := math.Ceil(-float64(n) * math.Log(p) / (math.Ln2 * math.Ln2))
	if m > MaxBits {
		return Layout{}, fmt.Errorf("%d addresses at false-positive rate %g need %.0f bits, more than a Redis string holds (2^32 bits = 512 MB): raise the rate or split the set", n, p, m)
	}
	k := int(math.Round(m / float64(n) * math.Ln2))
	k = max(1, min(k, 30))
	return Layout{Bits: uint64(max(m, 64)), Hashes: k}, nil
}

// seeds returns the start a and step b of an address's probe walk: the two
// 64-bit halves of the first 16 bytes of SHA-256(address), each mod m. SHA-256
// is in every Go and every language, needs no module, is deterministic across
// machines, and costs ~100 ns per address with SHA-NI (1 ms per 10k batch).
func (l Layout) seeds(addr string) (a, b uint32) {
	d := sha256.Sum256([]byte(addr))
	return uint32(binary.LittleEndian.Uint64(d[0:8]) % l.Bits), uint32(binary.LittleEndian.Uint64(d[8:16]) % l.Bits)
}

// Offsets returns the k bit offsets of addr (already normalized), in probe
// order: enhanced double hashing (Dillinger & Manolios) from the seeds,
// x₀ = a, y₀ = b, x ← x+y, y ← y+i (mod m). The Lua scripts walk the same
// sequence server-side; this function documents it and serves tests and
// benchmarks.
func (l Layout) Offsets(addr string) []uint64 {
	a, b := l.seeds(addr)
	x, y := uint64(a), uint64(b)
	out := make([]uint64, l.Hashes)
	for i := range out {
		out[i] = x
		x = (x + y) % l.Bits
		y = (y + uint64(i) + 1) % l.Bits
	}
	return out
}

// pack appends the seeds of addrs as little-endian uint32 pairs, the form the
// scripts unpack (8 bytes per address instead of k decimal offsets: 5× less
// to send and parse than pipelined GETBITs).
func (l Layout) pack(buf []byte, addrs []string) []byte {
	for _, a := range addrs {
		x, y := l.seeds(a)
		buf = binary.LittleEndian.AppendUint32(buf, x)
		buf = binary.LittleEndian.AppendUint32(buf, y)
	}
	return buf
}

var chainRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// normalize gives the form an address is stored in: lower-case 0x hex for
// an EVM chain (chain.FamilyOf; its coin and tokens share an address), the exact string otherwise.
func normalize(chain, addr string) string {
	if chainreg.FamilyOf(chain) == chainreg.EVM {
		return strings.ToLower(addr)
	}
	return addr
}
