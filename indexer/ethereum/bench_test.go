package ethereum

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// biggestBlock returns the block and receipts of the largest mainnet block
// in the shared test data (by the size of its JSON), or the fixture.
func biggestBlock(b *testing.B) (name string, block, receipts, traces []byte) {
	root, err := findShared("eth")
	if err == nil {
		dirs, _ := filepath.Glob(filepath.Join(root, "*", "receipts.result.json"))
		var best int
		for _, rp := range dirs {
			dir := filepath.Dir(rp)
			bl, err1 := os.ReadFile(filepath.Join(dir, "eth_getBlockByNumber_full.result.json"))
			rc, err2 := os.ReadFile(rp)
			tr, err3 := os.ReadFile(filepath.Join(dir, "traces_calltracer.result.json"))
			if err1 == nil && err2 == nil && err3 == nil && len(bl)+len(rc) > best {
				best, name, block, receipts, traces = len(bl)+len(rc), filepath.Base(dir), bl, rc, tr
			}
		}
	}
	if block == nil {
		bl, rc := fixture()
		return "fixture", mustJSON(b, bl), mustJSON(b, rc), mustJSON(b, fixtureTraces())
	}
	return name, block, receipts, traces
}

// BenchmarkDecodeBlock decodes the biggest block at hand. Its limit,
// measured alongside, is encoding/json merely scanning the same bytes
// (json.Valid): no decoder built on it can be faster.
func BenchmarkDecodeBlock(b *testing.B) {
	name, block, receipts, traces := biggestBlock(b)
	b.Logf("block %s: %d + %d bytes of JSON", name, len(block), len(receipts))
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(block) + len(receipts)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeBlock(block, receipts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("scan-limit", func(b *testing.B) {
		b.SetBytes(int64(len(block) + len(receipts)))
		for b.Loop() {
			if !json.Valid(block) || !json.Valid(receipts) {
				b.Fatal("invalid JSON")
			}
		}
	})
	b.Run("traces", func(b *testing.B) {
		blk, err := DecodeBlock(block, receipts)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(traces)))
		b.ReportAllocs()
		for b.Loop() {
			if err := DecodeTraces(traces, blk); err != nil {
				b.Fatal(err)
			}
		}
	})
}
