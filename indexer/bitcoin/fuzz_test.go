package bitcoin

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// FuzzDecode feeds arbitrary bytes to Decode under Bitcoin and Litecoin
// rules. Decode must never panic; a failure must be a *DecodeError inside
// the input; a success must be self-consistent, and under Bitcoin rules
// must agree with btcd's wire decoder on every txid, wtxid and size.
func FuzzDecode(f *testing.F) {
	btcRaw, _ := btcFixture(f)
	f.Add(btcRaw)
	for _, hogWitness := range []bool{false, true} {
		raw, _, _ := mwebFixture(f, hogWitness, fixtureExtension)
		f.Add(raw)
	}
	noExt, _, _ := mwebFixture(f, false, nil)
	f.Add(noExt)
	// The small real blocks, when the shared data is there.
	if dir, err := findSharedTestdata(); err == nil {
		for _, name := range []string{"btc/0.raw", "ltc/900000.raw", "ltc/testnet4/1821752.raw", "ltc/testnet4/2319633.raw", "ltc/testnet4/2321749.raw"} {
			if raw, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				f.Add(raw)
			}
		}
	}
	btc := mustParams(f, "btc", "mainnet")
	ltc := mustParams(f, "ltc", "mainnet")
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, p := range []*Params{btc, ltc} {
			for _, checkMerkle := range []bool{true, false} {
				b, err := decode(raw, p, checkMerkle)
				if err != nil {
					var de *DecodeError
					if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(raw) {
						t.Fatalf("%s: error %v is not a *DecodeError inside the input", p.Chain, err)
					}
					continue
				}
				checkDecoded(t, raw, b, p)
			}
		}
	})
}

// checkDecoded checks what must hold for any block Decode accepts.
func checkDecoded(t *testing.T, raw []byte, b *Block, p *Params) {
	t.Helper()
	if b.Size != len(raw) || len(b.Txs) == 0 || b.Hash != chainhash.DoubleHashH(raw[:80]).String() {
		t.Fatalf("%s: size %d of %d, %d txs, hash %s", p.Chain, b.Size, len(raw), len(b.Txs), b.Hash)
	}
	sum := 80 + wire.VarIntSerializeSize(uint64(len(b.Txs)))
	for i, tx := range b.Txs {
		sum += tx.Size
		// Without a witness vsize equals size, except that a HogEx's size
		// also counts its three MWEB bytes; a witness makes vsize smaller.
		var ok bool
		switch noWitness := tx.TxID == tx.Hash; {
		case noWitness && tx.HogEx:
			ok = tx.VSize+3 == tx.Size
		case noWitness:
			ok = tx.VSize == tx.Size
		default:
			ok = tx.VSize < tx.Size
		}
		if !ok || tx.VSize*4 < tx.Size {
			t.Fatalf("%s tx %d: size %d vsize %d txid %s hash %s", p.Chain, i, tx.Size, tx.VSize, tx.TxID, tx.Hash)
		}
		if tx.HogEx && (!p.MWEB || i != len(b.Txs)-1) {
			t.Fatalf("%s tx %d: unexpected HogEx", p.Chain, i)
		}
		for j, o := range tx.Vout {
			if o.N != uint32(j) {
				t.Fatalf("output %d numbered %d", j, o.N)
			}
			typ, addr := ClassifyScript(o.Script, p)
			if typ != o.Type || (addr == nil) != (o.Address == nil) {
				t.Fatalf("output %d classified twice differently", j)
			}
			switch o.Type {
			case TypeP2PKH, TypeP2SH, TypeP2WPKH, TypeP2WSH, TypeP2TR:
				if o.Address == nil {
					t.Fatalf("%s output without address", o.Type)
				}
			case TypeWitnessUnknown:
			default:
				if o.Address != nil {
					t.Fatalf("%s output with address %s", o.Type, *o.Address)
				}
			}
		}
	}
	// The transactions fill the block, but for the extension block marker
	// (and the extension block) after a final HogEx.
	last := b.Txs[len(b.Txs)-1]
	wantSum := len(raw)
	if p.MWEB && len(b.Txs) >= 2 && last.HogEx {
		wantSum--
	}
	if sum != wantSum && !(b.MWEB && sum < wantSum) {
		t.Fatalf("%s: txs take %d bytes of %d (MWEB %v)", p.Chain, sum, len(raw), b.MWEB)
	}
	if p.MWEB {
		return
	}
	// Bitcoin rules: btcd's wire must read the same block.
	var mb wire.MsgBlock
	r := bytes.NewReader(raw)
	if err := mb.Deserialize(r); err != nil || r.Len() != 0 {
		t.Fatalf("Decode accepted a block wire rejects (%v, %d bytes left)", err, r.Len())
	}
	if len(mb.Transactions) != len(b.Txs) {
		t.Fatalf("%d txs, wire %d", len(b.Txs), len(mb.Transactions))
	}
	for i, w := range mb.Transactions {
		tx := b.Txs[i]
		if tx.TxID != w.TxHash().String() || tx.Hash != w.WitnessHash().String() || tx.Size != w.SerializeSize() {
			t.Fatalf("tx %d differs from wire", i)
		}
	}
}

// BenchmarkDecode decodes the largest block at hand: the biggest raw block
// in ../shared/testdata, else a synthetic one of similar shape. For scale,
// BenchmarkDecodeHashFloor times what any decoder must at least do with the
// same bytes: one sha256d pass over them for the txids.
func BenchmarkDecode(b *testing.B) {
	raw, p, name := benchBlock(b)
	b.Logf("block: %s, %d bytes", name, len(raw))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(raw, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeManyOutputs decodes 574200 (8,150 outputs, 6,636 with a
// base58 address): address encoding, not hashing, sets its pace.
func BenchmarkDecodeManyOutputs(b *testing.B) {
	dir, err := findSharedTestdata()
	if err != nil {
		b.Skip("no ../shared/testdata")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "btc", "574200.raw"))
	if err != nil {
		b.Skip(err)
	}
	p := mustParams(b, "btc", "mainnet")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(raw, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeHashFloor(b *testing.B) {
	raw, _, _ := benchBlock(b)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		first := sha256.Sum256(raw)
		_ = sha256.Sum256(first[:])
	}
}

func benchBlock(b *testing.B) ([]byte, *Params, string) {
	p := mustParams(b, "btc", "mainnet")
	if dir, err := findSharedTestdata(); err == nil {
		var best []byte
		var bestName string
		matches, _ := filepath.Glob(filepath.Join(dir, "btc", "*.raw"))
		for _, m := range matches {
			if raw, err := os.ReadFile(m); err == nil && len(raw) > len(best) {
				best, bestName = raw, m
			}
		}
		if best != nil {
			return best, p, bestName
		}
	}
	return syntheticBigBlock(b), p, "synthetic"
}

// syntheticBigBlock builds a block of about 2 MB: 2,000 segwit transactions
// of 3 inputs and 4 outputs each, the fixture's output types mixed in.
func syntheticBigBlock(b *testing.B) []byte {
	cb := coinbaseTx(b, fixtureHeight, btcFixtureOutputs)
	txs := []*wire.MsgTx{cb}
	ids := []chainhash.Hash{cb.TxHash()}
	prev := cb.TxHash()
	for i := 0; i < 2000; i++ {
		tx := wire.NewMsgTx(2)
		for j := 0; j < 3; j++ {
			in := wire.NewTxIn(wire.NewOutPoint(&prev, uint32(j)), nil, nil)
			in.Witness = wire.TxWitness{bytes.Repeat([]byte{0x30}, 72), bytes.Repeat([]byte{0x02}, 33)}
			tx.AddTxIn(in)
		}
		for j := 0; j < 4; j++ {
			tx.AddTxOut(wire.NewTxOut(int64(i*10+j), mustHex(b, btcFixtureOutputs[(i+j)%5].script)))
		}
		// Pad like a real consolidation, so the block is about 2 MB.
		tx.TxIn[0].SignatureScript = bytes.Repeat([]byte{0x51}, 600)
		txs = append(txs, tx)
		ids = append(ids, tx.TxHash())
		prev = tx.TxHash()
	}
	return blockBytes(b, &wire.MsgBlock{Header: fixtureHeader(b, ids), Transactions: txs})
}
