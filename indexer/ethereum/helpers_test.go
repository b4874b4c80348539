package ethereum

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hash32 and addr20 make distinct, recognisable fixture values.
func hash32(b byte) string { return "0x" + strings.Repeat(fmt.Sprintf("%02x", b), 32) }
func addr20(b byte) string { return "0x" + strings.Repeat(fmt.Sprintf("%02x", b), 20) }

// topicOf left-pads an address into a 32-byte topic.
func topicOf(addr string) string {
	return "0x" + strings.Repeat("0", 24) + strings.TrimPrefix(addr, "0x")
}

// word is a 32-byte data word holding v.
func word(v *big.Int) string { return fmt.Sprintf("0x%064x", v) }

func bigHex(v *big.Int) string { return fmt.Sprintf("0x%x", v) }

func mustBig(t testing.TB, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 0)
	if !ok {
		t.Fatalf("bad big %q", s)
	}
	return v
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// render is a canonical text of a decoded block, for comparing whole
// blocks: big.Int marshals as its exact decimal value.
func render(t testing.TB, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sharedTestdata returns ../shared/testdata/sub... next to the module
// root, or skips the test: the real mainnet data is used when present,
// never needed.
func sharedTestdata(t testing.TB, sub ...string) string {
	t.Helper()
	p, err := findShared(sub...)
	if err != nil {
		t.Skip(err)
	}
	return p
}

func findShared(sub ...string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root not found")
		}
		dir = parent
	}
	p := filepath.Join(append([]string{dir, "..", "shared", "testdata"}, sub...)...)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no shared test data: %w", err)
	}
	return p, nil
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unwrap strips a JSON-RPC envelope from a file of the shared test data.
func unwrap(t testing.TB, data []byte) json.RawMessage {
	t.Helper()
	r, err := UnwrapRPC(data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// deepCopy round-trips v through JSON, so table cases can mutate a fixture.
func deepCopy[T any](t testing.TB, v T) T {
	t.Helper()
	var out T
	if err := json.Unmarshal(mustJSON(t, v), &out); err != nil {
		t.Fatal(err)
	}
	return out
}
