package bitcoin

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// Errors a DecodeError wraps, for errors.Is.
var (
	// ErrTruncated: the data ends before the structure it declares, or a
	// count or length cannot fit in the bytes that are left.
	ErrTruncated = errors.New("unexpected end of block data")
	// ErrMalformed: the bytes are there but no valid block reads this way.
	ErrMalformed = errors.New("malformed block")
	// ErrMerkleRoot: the transactions parse but their txids do not hash to
	// the header's merkle root, so they are not the block's transactions.
	ErrMerkleRoot = errors.New("merkle root mismatch")
)

// DecodeError tells where in the raw block decoding stopped and why.
type DecodeError struct {
	Offset int    // byte offset into the raw block
	Tx     int    // index of the transaction being read, or -1
	Msg    string // what was wrong
	Err    error  // ErrTruncated, ErrMalformed or ErrMerkleRoot
}

func (e *DecodeError) Error() string {
	if e.Tx >= 0 {
		return fmt.Sprintf("tx %d at byte %d: %s", e.Tx, e.Offset, e.Msg)
	}
	return fmt.Sprintf("at byte %d: %s", e.Offset, e.Msg)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Smallest serializations, used to bound counts by the bytes left so that a
// huge count fails before anything is allocated for it.
const (
	headerSize    = 80
	minTxSize     = 10 // version, 0 inputs, 0 outputs, locktime
	minInputSize  = 41 // outpoint 36, script length 1, sequence 4
	minOutputSize = 9  // value 8, script length 1
	// typicalTxSize only sizes the first allocation of the tx list; the
	// list grows if a block holds smaller transactions.
	typicalTxSize = 200
)

// Transaction flags (BIP 144; Litecoin LIP-0002 adds MWEB).
const (
	flagWitness = 0x01
	flagMWEB    = 0x08
)

// Decode decodes one serialized block (the getblock verbosity 0 / blk*.dat
// record form, without magic or length) of network p.
//
// It checks the structure and that the txids hash to the header's merkle
// root; it checks no other consensus rule. Every byte of raw must belong to
// the block: trailing bytes are an error, because they mean the caller's
// framing is wrong. On Litecoin, everything after the marker that follows a
// final HogEx is the MWEB extension block; it is not parsed (the canonical
// transactions are what the index stores), only its presence is reported in
// Block.MWEB.
//
// Output.Script slices point into raw, so raw must not be modified while the
// Block is in use. Errors are *DecodeError values. Decode keeps no state
// between calls and is safe to call from many goroutines.
func Decode(raw []byte, p *Params) (*Block, error) {
	return decode(raw, p, true)
}

// decode is Decode with the merkle check optional, for tests that need the
// parse of bytes whose merkle root is not right.
func decode(raw []byte, p *Params, checkMerkle bool) (*Block, error) {
	if p == nil {
		return nil, errors.New("decode block: no network parameters")
	}
	d := &decoder{raw: raw, tx: -1, p: p, sha: sha256.New()}
	if len(raw) < headerSize {
		return nil, d.errf(0, ErrTruncated, "block header needs %d bytes, the data has %d", headerSize, len(raw))
	}
	var h wire.BlockHeader
	if err := h.Deserialize(bytes.NewReader(raw[:headerSize])); err != nil {
		return nil, d.errf(0, ErrMalformed, "block header: %v", err)
	}
	blockHash := chainhash.DoubleHashH(raw[:headerSize])
	b := &Block{
		Hash:       hashHex((*[32]byte)(&blockHash)),
		PrevHash:   hashHex((*[32]byte)(&h.PrevBlock)),
		MerkleRoot: hashHex((*[32]byte)(&h.MerkleRoot)),
		Version:    h.Version,
		Time:       h.Timestamp.UTC(),
		Bits:       h.Bits,
		Nonce:      h.Nonce,
		Height:     -1,
		Size:       len(raw),
	}
	d.pos = headerSize

	nTx, err := d.count(field{part: partTxs}, minTxSize)
	if err != nil {
		return nil, err
	}
	if nTx == 0 {
		return nil, d.errf(headerSize, ErrMalformed, "block has no transactions")
	}
	b.Txs = make([]Tx, 0, min(nTx, len(raw)/typicalTxSize+1))
	txids := make([]chainhash.Hash, 0, cap(b.Txs))
	for i := 0; i < nTx; i++ {
		d.tx = i
		b.Txs = append(b.Txs, Tx{})
		t := &b.Txs[i]
		txid, err := d.readTx(t)
		if err != nil {
			return nil, err
		}
		txids = append(txids, txid)
		if t.HogEx && i != nTx-1 {
			return nil, d.errf(d.pos, ErrMalformed, "HogEx transaction %d is not the last of the %d transactions", i, nTx)
		}
	}
	d.tx = -1

	// Litecoin Core reads an extension block after the transactions when
	// there are at least two and the last is a HogEx (CBlock::SERIALIZE_METHODS):
	// 0x00 says none follows, 0x01 that the rest is the MWEB block.
	if last := &b.Txs[nTx-1]; p.MWEB && nTx >= 2 && last.HogEx {
		at := d.pos
		marker, err := d.u8(field{part: partExtension})
		if err != nil {
			return nil, err
		}
		switch marker {
		case 0:
		case 1:
			if d.pos == len(raw) {
				return nil, d.errf(d.pos, ErrTruncated, "extension block marker 0x01 is not followed by the MWEB block")
			}
			b.MWEB = true
			d.pos = len(raw)
		default:
			return nil, d.errf(at, ErrMalformed, "extension block marker is 0x%02x, want 0x00 or 0x01", marker)
		}
	}
	if d.pos != len(raw) {
		return nil, d.errf(d.pos, ErrMalformed, "%d trailing bytes after the last transaction", len(raw)-d.pos)
	}

	if checkMerkle {
		if root := merkleRoot(txids); root != h.MerkleRoot {
			return nil, d.errf(36, ErrMerkleRoot, "the %d txids hash to merkle root %s, the header has %s",
				nTx, hashHex((*[32]byte)(&root)), b.MerkleRoot)
		}
	}
	if b.Version >= 2 && b.Txs[0].Coinbase {
		b.Height = bip34Height(d.coinbaseScript)
	}
	return b, nil
}

// decoder reads a raw block front to back; pos is the offset of the next
// byte and tx the index of the transaction being read (-1 outside one).
type decoder struct {
	raw []byte
	pos int
	tx  int
	p   *Params

	sha            hash.Hash // reused to hash transactions serialized in pieces
	coinbaseScript []byte    // signature script of the first input of tx 0
}

// part is a piece of the block layout, as error messages name it.
type part uint8

const (
	partTxs part = iota
	partVersion
	partFlags
	partInputs
	partOutputs
	partOutpoint
	partSigScript
	partSequence
	partWitness
	partValue
	partPkScript
	partMWEB
	partLockTime
	partExtension
)

func (p part) String() string {
	switch p {
	case partTxs:
		return "transaction"
	case partVersion:
		return "version"
	case partFlags:
		return "flags after the 0x00 marker"
	case partInputs:
		return "input"
	case partOutputs:
		return "output"
	case partOutpoint:
		return "outpoint"
	case partSigScript:
		return "signature script"
	case partSequence:
		return "sequence"
	case partWitness:
		return "witness item"
	case partValue:
		return "value"
	case partPkScript:
		return "script"
	case partMWEB:
		return "MWEB transaction presence byte"
	case partLockTime:
		return "locktime"
	case partExtension:
		return "extension block marker after the HogEx"
	}
	return "data"
}

// field is a part, numbered for the parts of inputs and outputs. It is two
// words, turned into text only when an error is reported, so reading a
// valid block formats nothing.
type field struct {
	part  part
	index int
}

func (f field) String() string {
	switch f.part {
	case partOutpoint, partSigScript, partSequence, partWitness:
		return fmt.Sprintf("input %d %s", f.index, f.part)
	case partValue, partPkScript:
		return fmt.Sprintf("output %d %s", f.index, f.part)
	}
	return f.part.String()
}

func (d *decoder) errf(offset int, kind error, format string, args ...any) *DecodeError {
	return &DecodeError{Offset: offset, Tx: d.tx, Msg: fmt.Sprintf(format, args...), Err: kind}
}

func (d *decoder) left() int { return len(d.raw) - d.pos }

// need fails unless n more bytes are available.
func (d *decoder) need(n int, what field) error {
	if n > d.left() {
		return d.errf(d.pos, ErrTruncated, "%s needs %d bytes, %d left", what, n, d.left())
	}
	return nil
}

func (d *decoder) u8(what field) (byte, error) {
	if err := d.need(1, what); err != nil {
		return 0, err
	}
	v := d.raw[d.pos]
	d.pos++
	return v, nil
}

func (d *decoder) u32(what field) (uint32, error) {
	if err := d.need(4, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(d.raw[d.pos:])
	d.pos += 4
	return v, nil
}

// varint reads a CompactSize with the rules of wire.ReadVarInt (and Core's
// ReadCompactSize): little-endian after a 0xfd/0xfe/0xff prefix, and an
// error for a value that a shorter form could have held. It reads the slice
// directly: through wire's io.Reader it cost 12% of decode time on a 2 MB
// block. TestVarIntMatchesWire holds the two to the same results.
func (d *decoder) varint(what field, suffix string) (uint64, error) {
	at := d.pos
	if at >= len(d.raw) {
		return 0, d.errf(at, ErrTruncated, "%s %s: no bytes left", what, suffix)
	}
	prefix := d.raw[at]
	var size int
	var least uint64
	switch prefix {
	case 0xfd:
		size, least = 2, 0xfd
	case 0xfe:
		size, least = 4, 0x10000
	case 0xff:
		size, least = 8, 0x100000000
	default:
		d.pos++
		return uint64(prefix), nil
	}
	if len(d.raw)-at-1 < size {
		return 0, d.errf(at, ErrTruncated, "%s %s: the data ends inside its variable-length integer", what, suffix)
	}
	var v uint64
	for i := size; i > 0; i-- {
		v = v<<8 | uint64(d.raw[at+i])
	}
	if v < least {
		return 0, d.errf(at, ErrMalformed, "%s %s: non-canonical variable-length integer (%d after prefix 0x%02x, which is for values from %d)", what, suffix, v, prefix, least)
	}
	d.pos = at + 1 + size
	return v, nil
}

// count reads the number of items of a list whose items take at least
// minSize bytes each, and fails if that many cannot fit in what is left.
func (d *decoder) count(what field, minSize int) (int, error) {
	at := d.pos
	v, err := d.varint(what, "count")
	if err != nil {
		return 0, err
	}
	if v > uint64(d.left()/minSize) {
		return 0, d.errf(at, ErrTruncated, "%s count %d cannot fit: each takes at least %d bytes and %d are left", what, v, minSize, d.left())
	}
	return int(v), nil
}

// varBytes reads a length-prefixed byte string; the result aliases raw.
func (d *decoder) varBytes(what field) ([]byte, error) {
	at := d.pos
	n, err := d.varint(what, "length")
	if err != nil {
		return nil, err
	}
	if n > uint64(d.left()) {
		return nil, d.errf(at, ErrTruncated, "%s length %d exceeds the %d bytes left", what, n, d.left())
	}
	s := d.raw[d.pos : d.pos+int(n) : d.pos+int(n)]
	d.pos += int(n)
	return s, nil
}

// readTx reads one transaction into t and returns its txid.
//
// Layout (Core's UnserializeTransaction): version, then either the input
// list or a 0x00 marker and a flags byte before it; outputs; witnesses if
// flags&1; an MWEB presence byte if flags&8 (Litecoin); locktime.
func (d *decoder) readTx(t *Tx) (chainhash.Hash, error) {
	start := d.pos
	version, err := d.u32(field{part: partVersion})
	if err != nil {
		return chainhash.Hash{}, err
	}
	t.Version = int32(version)

	vinStart := d.pos
	nIn, err := d.count(field{part: partInputs}, minInputSize)
	if err != nil {
		return chainhash.Hash{}, err
	}
	var flags byte
	if nIn == 0 {
		// An empty input list is the extended format's marker.
		at := d.pos
		if flags, err = d.u8(field{part: partFlags}); err != nil {
			return chainhash.Hash{}, err
		}
		if flags == 0 {
			return chainhash.Hash{}, d.errf(at, ErrMalformed, "transaction has no inputs and no flags (marker 0x00 followed by 0x00)")
		}
		allowed := byte(flagWitness)
		if d.p.MWEB {
			allowed |= flagMWEB
		}
		if unknown := flags &^ allowed; unknown != 0 {
			hint := ""
			if unknown&flagMWEB != 0 {
				hint = " (0x08 is Litecoin's MWEB flag: is this a Litecoin block?)"
			}
			if unknown != flags {
				return chainhash.Hash{}, d.errf(at, ErrMalformed, "unknown bits 0x%02x in transaction flags 0x%02x%s", unknown, flags, hint)
			}
			return chainhash.Hash{}, d.errf(at, ErrMalformed, "unknown transaction flags 0x%02x%s", flags, hint)
		}
		vinStart = d.pos
		if nIn, err = d.count(field{part: partInputs}, minInputSize); err != nil {
			return chainhash.Hash{}, err
		}
	}

	t.Vin = make([]Input, nIn)
	for i := range t.Vin {
		if err := d.readInput(&t.Vin[i], i); err != nil {
			return chainhash.Hash{}, err
		}
	}
	t.Coinbase = nIn == 1 && isNullOutPoint(d.raw[vinStart+1:])
	if t.Coinbase {
		t.Vin[0].Coinbase = true
	}

	nOut, err := d.count(field{part: partOutputs}, minOutputSize)
	if err != nil {
		return chainhash.Hash{}, err
	}
	t.Vout = make([]Output, nOut)
	var addrs []string // the strings Output.Address points to, one slice per tx
	for i := range t.Vout {
		out := &t.Vout[i]
		if err := d.readOutput(out, i); err != nil {
			return chainhash.Hash{}, err
		}
		typ, addr := scriptAddress(out.Script, d.p)
		out.Type = typ
		if addr != "" {
			if addrs == nil {
				addrs = make([]string, nOut)
			}
			addrs[i] = addr
			out.Address = &addrs[i]
		}
	}
	voutEnd := d.pos

	if flags&flagWitness != 0 {
		witnessed := false
		for i := 0; i < nIn; i++ {
			items, err := d.count(field{partWitness, i}, 1)
			if err != nil {
				return chainhash.Hash{}, err
			}
			witnessed = witnessed || items > 0
			for j := 0; j < items; j++ {
				if _, err := d.varBytes(field{partWitness, i}); err != nil {
					return chainhash.Hash{}, err
				}
			}
		}
		if !witnessed {
			// Core: "Superfluous witness record".
			return chainhash.Hash{}, d.errf(voutEnd, ErrMalformed, "witness flag set but every input's witness is empty")
		}
	}
	witEnd := d.pos

	if flags&flagMWEB != 0 {
		at := d.pos
		present, err := d.u8(field{part: partMWEB})
		if err != nil {
			return chainhash.Hash{}, err
		}
		switch present {
		case 0:
			// The MWEB flag without an MWEB body marks the HogEx.
			if nOut == 0 {
				return chainhash.Hash{}, d.errf(at, ErrMalformed, "HogEx transaction has no outputs")
			}
			t.HogEx = true
		case 1:
			// The length of an MWEB body is known only by parsing it, and
			// Litecoin Core rejects a block whose transactions carry one
			// ("unexpected-mweb-data": MWEB transactions live in the
			// extension block), so no valid block needs it parsed here.
			return chainhash.Hash{}, d.errf(at, ErrMalformed, "transaction carries an MWEB body, which Litecoin consensus does not allow in a block's transaction list (unexpected-mweb-data)")
		default:
			return chainhash.Hash{}, d.errf(at, ErrMalformed, "MWEB presence byte is 0x%02x, want 0x00 or 0x01", present)
		}
	}

	lockTime, err := d.u32(field{part: partLockTime})
	if err != nil {
		return chainhash.Hash{}, err
	}
	t.LockTime = lockTime
	end := d.pos

	// The txid hashes the legacy serialization: no marker, flags, witness
	// or MWEB byte. The wtxid adds the witness but never the MWEB parts
	// (Litecoin Core hashes it with SERIALIZE_NO_MWEB), and equals the
	// txid without a witness.
	var txid, wtxid chainhash.Hash
	if flags == 0 {
		txid = chainhash.DoubleHashH(d.raw[start:end])
		wtxid = txid
	} else {
		txid = d.hashPieces(d.raw[start:start+4], d.raw[vinStart:voutEnd], d.raw[end-4:end])
		switch {
		case flags == flagWitness:
			wtxid = chainhash.DoubleHashH(d.raw[start:end])
		case flags&flagWitness != 0:
			wtxid = d.hashPieces(d.raw[start:start+4], []byte{0x00, flagWitness}, d.raw[vinStart:witEnd], d.raw[end-4:end])
		default:
			wtxid = txid
		}
	}
	t.TxID = hashHex((*[32]byte)(&txid))
	t.Hash = hashHex((*[32]byte)(&wtxid))

	// Weight as Litecoin Core computes it (and Bitcoin Core, where the MWEB
	// terms are zero): stripped size*3 + size with witness, both without
	// the MWEB flag and presence byte. Size is the bytes as serialized.
	base := 4 + (voutEnd - vinStart) + 4
	total := base
	if flags&flagWitness != 0 {
		total += 2 + (witEnd - voutEnd)
	}
	weight := base*3 + total
	t.Size = end - start
	t.VSize = (weight + 3) / 4
	return txid, nil
}

func (d *decoder) readInput(in *Input, i int) error {
	if err := d.need(36, field{partOutpoint, i}); err != nil {
		return err
	}
	in.PrevTxID = hashHex((*[32]byte)(d.raw[d.pos : d.pos+32]))
	in.PrevVout = binary.LittleEndian.Uint32(d.raw[d.pos+32:])
	d.pos += 36
	script, err := d.varBytes(field{partSigScript, i})
	if err != nil {
		return err
	}
	if d.tx == 0 && i == 0 {
		d.coinbaseScript = script
	}
	if in.Sequence, err = d.u32(field{partSequence, i}); err != nil {
		return err
	}
	return nil
}

func (d *decoder) readOutput(out *Output, i int) error {
	if err := d.need(8, field{partValue, i}); err != nil {
		return err
	}
	out.N = uint32(i)
	out.Value = int64(binary.LittleEndian.Uint64(d.raw[d.pos:]))
	d.pos += 8
	script, err := d.varBytes(field{partPkScript, i})
	if err != nil {
		return err
	}
	out.Script = script
	return nil
}

// hashPieces is sha256d over the concatenation of parts, without building
// it.
func (d *decoder) hashPieces(parts ...[]byte) chainhash.Hash {
	d.sha.Reset()
	for _, p := range parts {
		d.sha.Write(p)
	}
	var first [32]byte
	d.sha.Sum(first[:0])
	return chainhash.Hash(sha256.Sum256(first[:]))
}

// isNullOutPoint reports whether the outpoint at the start of b is the null
// one a coinbase spends: zero hash, index 0xffffffff.
func isNullOutPoint(b []byte) bool {
	if len(b) < 36 {
		return false
	}
	for _, c := range b[:32] {
		if c != 0 {
			return false
		}
	}
	return binary.LittleEndian.Uint32(b[32:]) == 0xffffffff
}

// merkleRoot computes the block merkle root of txids (Bitcoin's: an odd
// level repeats its last hash).
func merkleRoot(txids []chainhash.Hash) chainhash.Hash {
	if len(txids) == 1 {
		return txids[0]
	}
	level := make([]chainhash.Hash, len(txids))
	copy(level, txids)
	var pair [64]byte
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		for i := 0; i < len(level)/2; i++ {
			copy(pair[:32], level[2*i][:])
			copy(pair[32:], level[2*i+1][:])
			level[i] = chainhash.DoubleHashH(pair[:])
		}
		level = level[:len(level)/2]
	}
	return level[0]
}

// bip34Height reads the block height a BIP 34 coinbase script starts with:
// OP_0, OP_1..OP_16, or a minimal push of up to 5 bytes of a non-negative
// number (what Core's CScript() << nHeight writes). Anything else is -1.
func bip34Height(script []byte) int64 {
	if len(script) == 0 {
		return -1
	}
	op := script[0]
	switch {
	case op == op0:
		return 0
	case op >= op1 && op <= op16:
		return int64(op - (op1 - 1))
	case op >= 1 && op <= 5:
		if len(script) < 1+int(op) {
			return -1
		}
		num := script[1 : 1+int(op)]
		last := num[len(num)-1]
		if last&0x80 != 0 {
			return -1 // negative
		}
		if last == 0 && (len(num) == 1 || num[len(num)-2]&0x80 == 0) {
			return -1 // not minimal
		}
		if len(num) == 1 && num[0] <= 16 {
			return -1 // OP_N should have been used
		}
		var h int64
		for i, c := range num {
			h |= int64(c) << (8 * i)
		}
		return h
	}
	return -1
}

const hexDigits = "0123456789abcdef"

// hashHex formats a hash in display order (byte-reversed hex), as
// chainhash.Hash.String does, with one allocation.
func hashHex(h *[32]byte) string {
	var buf [64]byte
	for i := 0; i < 32; i++ {
		c := h[31-i]
		buf[2*i] = hexDigits[c>>4]
		buf[2*i+1] = hexDigits[c&0x0f]
	}
	return string(buf[:])
}
