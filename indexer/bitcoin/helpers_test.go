package bitcoin

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// sharedTestdata returns the directory of the team's real chain data
// (../shared/testdata next to the module root) or skips the test when it is
// absent: the project's own fixtures must be enough without it.
func sharedTestdata(t testing.TB) string {
	t.Helper()
	td, err := findSharedTestdata()
	if err != nil {
		t.Skipf("no ../shared/testdata (%v); skipping real-block cases", err)
	}
	return td
}

// findSharedTestdata looks for ../shared/testdata beside the module root.
func findSharedTestdata() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			td := filepath.Join(dir, "..", "shared", "testdata")
			_, err := os.Stat(td)
			return td, err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

func mustParams(t testing.TB, chain, network string) *Params {
	t.Helper()
	p, err := ParamsFor(chain, network)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// refMerkleRoot is an independent, recursive merkle root over display-order
// txid strings, to check Decode's own computation.
func refMerkleRoot(t testing.TB, txids []string) string {
	t.Helper()
	level := make([][]byte, len(txids))
	for i, s := range txids {
		h, err := chainhash.NewHashFromStr(s)
		if err != nil {
			t.Fatalf("txid %d %q: %v", i, s, err)
		}
		level[i] = h[:]
	}
	for len(level) > 1 {
		var next [][]byte
		for i := 0; i < len(level); i += 2 {
			j := i + 1
			if j == len(level) {
				j = i
			}
			h := chainhash.DoubleHashB(append(append([]byte{}, level[i]...), level[j]...))
			next = append(next, h)
		}
		level = next
	}
	var root chainhash.Hash
	copy(root[:], level[0])
	return root.String()
}

func txidsOf(b *Block) []string {
	ids := make([]string, len(b.Txs))
	for i, tx := range b.Txs {
		ids[i] = tx.TxID
	}
	return ids
}

func txBytes(t testing.TB, tx *wire.MsgTx) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func blockBytes(t testing.TB, b *wire.MsgBlock) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := b.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
