package bitcoin

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/sluicepay/sluice/indexer"
)

// fixtureChain builds n linked blocks from a zero parent (a genesis).
func fixtureChain(t *testing.T, n int) [][]byte {
	t.Helper()
	var out [][]byte
	prev := chainhash.Hash{}
	for h := 0; h < n; h++ {
		cb := coinbaseTx(t, int64(h), btcFixtureOutputs[:2])
		hdr := fixtureHeader(t, []chainhash.Hash{cb.TxHash()})
		hdr.PrevBlock = prev
		hdr.Timestamp = time.Unix(1700000000+int64(h)*600, 0)
		mb := &wire.MsgBlock{Header: hdr, Transactions: []*wire.MsgTx{cb}}
		out = append(out, blockBytes(t, mb))
		prev = mb.BlockHash()
	}
	return out
}

func record(magic [4]byte, b []byte) []byte {
	var buf bytes.Buffer
	buf.Write(magic[:])
	_ = binary.Write(&buf, binary.LittleEndian, uint32(len(b)))
	buf.Write(b)
	return buf.Bytes()
}

func TestBlocksDir(t *testing.T) {
	p := mustParams(t, "btc", "mainnet")
	blocks := fixtureChain(t, 6)
	dir := t.TempDir()
	// file 0: blocks 0, 2, 1 and zero padding; file 1: 5, 3, 4, then a torn record
	f0 := bytes.Join([][]byte{record(p.Magic, blocks[0]), record(p.Magic, blocks[2]), record(p.Magic, blocks[1]), make([]byte, 1000)}, nil)
	torn := record(p.Magic, blocks[0])[:100]
	f1 := bytes.Join([][]byte{record(p.Magic, blocks[5]), record(p.Magic, blocks[3]), record(p.Magic, blocks[4]), torn}, nil)
	os.WriteFile(filepath.Join(dir, "blk00000.dat"), f0, 0o644)
	os.WriteFile(filepath.Join(dir, "blk00001.dat"), f1, 0o644)

	var seen []string
	bd, err := ScanBlocksDir(dir, p.Magic, func(file string, n int) { seen = append(seen, file) })
	if err != nil {
		t.Fatal(err)
	}
	if bd.Len() != 6 || bd.Skipped != 1 || len(seen) != 2 {
		t.Fatalf("found %d blocks, skipped %d, progress %v", bd.Len(), bd.Skipped, seen)
	}
	chain, err := bd.Chain("")
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 6 {
		t.Fatalf("chain of %d", len(chain))
	}
	src := &FileSource{Dir: bd, Chain: chain, Params: p}
	for h := range blocks {
		hash, err := src.HashAt(context.Background(), int64(h))
		if err != nil {
			t.Fatal(err)
		}
		b, err := src.Fetch(context.Background(), int64(h), hash)
		if err != nil {
			t.Fatal(err)
		}
		if b.B.Hash != chain[h].String() || b.B.Size != len(blocks[h]) {
			t.Fatalf("height %d: decoded %s (size %d), want %s", h, b.B.Hash, b.B.Size, chain[h])
		}
	}
	if _, err := src.HashAt(context.Background(), 6); !errors.Is(err, indexer.ErrNoBlock) {
		t.Fatalf("past the tip: %v", err)
	}

	// the node's tip picks the chain's end
	short, err := bd.Chain(chain[3].String())
	if err != nil || len(short) != 4 || short[3] != chain[3] {
		t.Fatalf("chain to block 3: %d, %v", len(short), err)
	}

	// another network's magic finds nothing of ours
	other := mustParams(t, "ltc", "mainnet")
	bd2, err := ScanBlocksDir(dir, other.Magic, nil)
	if err != nil || bd2.Len() != 0 {
		t.Fatalf("ltc magic on btc files: %d blocks, %v", bd2.Len(), err)
	}
	if _, err := bd2.Chain(""); err == nil {
		t.Fatal("an empty scan must not give a chain")
	}
}

func TestBlocksDirErrors(t *testing.T) {
	p := mustParams(t, "btc", "mainnet")
	if _, err := ScanBlocksDir(t.TempDir(), p.Magic, nil); err == nil || !strings.Contains(err.Error(), "no blk*.dat files") {
		t.Fatalf("empty dir: %v", err)
	}
	// without the genesis block the files cannot be ordered from the start
	blocks := fixtureChain(t, 3)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "blk00000.dat"), append(record(p.Magic, blocks[1]), record(p.Magic, blocks[2])...), 0o644)
	bd, err := ScanBlocksDir(dir, p.Magic, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bd.Chain(""); err == nil || !strings.Contains(err.Error(), "genesis") {
		t.Fatalf("want a missing-genesis error, got %v", err)
	}
	// an absurd length is corruption: skipped, not allocated
	huge := append(append([]byte{}, p.Magic[:]...), 0xff, 0xff, 0xff, 0x7f)
	os.WriteFile(filepath.Join(dir, "blk00001.dat"), append(huge, make([]byte, 100)...), 0o644)
	if bd, err := ScanBlocksDir(dir, p.Magic, nil); err != nil || bd.Skipped != 1 {
		t.Fatalf("huge record: %v, %+v", err, bd)
	}
}
