package bitcoin

import (
	"bytes"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// TestVarIntMatchesWire holds decoder.varint to wire.ReadVarInt: same value
// and length for every canonical encoding at the size boundaries, an error
// for the same non-canonical and truncated inputs.
func TestVarIntMatchesWire(t *testing.T) {
	var inputs [][]byte
	for _, v := range []uint64{0, 1, 0xfc, 0xfd, 0xfe, 0xff, 0x100, 0xffff, 0x10000, 0x10001,
		0xffffffff, 0x100000000, 0x100000001, 1 << 60, 1<<64 - 1} {
		var buf bytes.Buffer
		if err := wire.WriteVarInt(&buf, 0, v); err != nil {
			t.Fatal(err)
		}
		enc := buf.Bytes()
		inputs = append(inputs, enc, append(bytes.Clone(enc), 0x42)) // with a byte after it
		for n := 0; n < len(enc); n++ {
			inputs = append(inputs, enc[:n])
		}
	}
	inputs = append(inputs,
		[]byte{0xfd, 0x00, 0x00}, []byte{0xfd, 0xfc, 0x00}, // non-canonical 2-byte forms
		[]byte{0xfe, 0xff, 0xff, 0x00, 0x00},             // fits in 2 bytes
		[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, // fits in 4 bytes
		[]byte{0xff, 0, 0, 0, 0, 1, 0, 0, 0},
	)
	for _, in := range inputs {
		r := bytes.NewReader(in)
		want, wantErr := wire.ReadVarInt(r, 0)
		wantLen := len(in) - r.Len()

		d := &decoder{raw: in, tx: -1}
		got, err := d.varint(field{part: partTxs}, "count")
		switch {
		case (err != nil) != (wantErr != nil):
			t.Errorf("%x: error %v, wire %v", in, err, wantErr)
		case err == nil && (got != want || d.pos != wantLen):
			t.Errorf("%x: %d in %d bytes, wire %d in %d", in, got, d.pos, want, wantLen)
		case err != nil && d.pos != 0:
			t.Errorf("%x: position moved to %d on error", in, d.pos)
		}
	}
}

func TestMerkleRoot(t *testing.T) {
	// An odd level repeats its last hash; one txid is its own root.
	var ids []chainhash.Hash
	for i := 0; i < 7; i++ {
		ids = append(ids, chainhash.DoubleHashH([]byte{byte(i)}))
		strs := make([]string, len(ids))
		for j := range ids {
			strs[j] = ids[j].String()
		}
		root := merkleRoot(ids)
		if got, want := root.String(), refMerkleRoot(t, strs); got != want {
			t.Errorf("%d txids: root %s, want %s", len(ids), got, want)
		}
	}
}

func TestBIP34Height(t *testing.T) {
	for _, c := range []struct {
		script string
		want   int64
	}{
		{"03a0bb0d", 900000},               // LTC 900000
		{"0361ae0a2f736c75696365", 700001}, // followed by other data
		{"00", 0},
		{"51", 1},
		{"60", 16},
		{"0111", 17},
		{"0180", -1},                         // negative
		{"020100", -1},                       // not minimal
		{"020080", -1},                       // negative zero
		{"03008000", 0x8000},                 // 0x80 in the top byte needs a sign byte
		{"0105", -1},                         // OP_5 should have been used
		{"0400e1f505", 100000000},            // four bytes
		{"05ffffffff00", 0xffffffff},         // five bytes
		{"03a0bb", -1},                       // push runs past the end
		{"", -1},                             // empty
		{"04ffff001d0104455468", 0x1d00ffff}, // the genesis coinbase reads as a height: why Decode asks for version >= 2
		{"6a", -1},                           // not a push
		{"4c03a0bb0d", -1},                   // PUSHDATA1 is not what CScript() << n writes
		{"08ffffffffffffff7f", -1},           // too wide
		{"03ffff7f", 0x7fffff},               // largest 3-byte height
		{"0400000080", -1},                   // negative zero
		{"0400000001", 0x01000000},           // 2^24
		{"020001", 0x100},                    // 256
		{"0181", -1},                         // -1
		{"01ff", -1},                         // -127
		{"027f00", -1},                       // not minimal
		{"02ff00", 0xff},                     // 255 needs the sign byte
		{"03ffff00", 0xffff},                 // 65535 needs the sign byte
		{"0300ff00", 0xff00},                 // 65280
		{"0300008000", -1},                   // push of 3 claims 5 bytes: reads 000080 → negative
		{"04000080000000", 0x800000},         // 2^23 needs the sign byte
		{"0500000000010000", 0x0100000000},   // 2^32
	} {
		if got := bip34Height(mustHex(t, c.script)); got != c.want {
			t.Errorf("%s: height %d, want %d", c.script, got, c.want)
		}
	}
}

func TestDecodeErrorFormat(t *testing.T) {
	e := &DecodeError{Offset: 1234, Tx: 5, Msg: "input 3 sequence needs 4 bytes, 2 left", Err: ErrTruncated}
	if got, want := e.Error(), "tx 5 at byte 1234: input 3 sequence needs 4 bytes, 2 left"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if !errors.Is(e, ErrTruncated) || errors.Is(e, ErrMalformed) {
		t.Errorf("errors.Is does not see the kind")
	}
	e = &DecodeError{Offset: 80, Tx: -1, Msg: "block has no transactions", Err: ErrMalformed}
	if got, want := e.Error(), "at byte 80: block has no transactions"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestHashHex(t *testing.T) {
	h := chainhash.DoubleHashH([]byte("sluice"))
	if got := hashHex((*[32]byte)(&h)); got != h.String() {
		t.Errorf("%s, want %s", got, h.String())
	}
}
