package bitcoin

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// rawBlock joins an 80-byte header (zeros: these blocks fail before the
// merkle check), a transaction count byte and the given pieces.
func rawBlock(t testing.TB, nTx byte, pieces ...string) []byte {
	t.Helper()
	b := append(make([]byte, 80), nTx)
	for _, p := range pieces {
		b = append(b, mustHex(t, strings.ReplaceAll(p, " ", ""))...)
	}
	return b
}

const (
	txVersion  = "01000000"
	nullInput  = "0000000000000000000000000000000000000000000000000000000000000000 ffffffff 00 ffffffff"
	someInput  = "1111111111111111111111111111111111111111111111111111111111111111 00000000 00 ffffffff"
	tinyOutput = "0000000000000000 00"
	lockTime   = "00000000"
)

func TestDecodeMalformed(t *testing.T) {
	btcRaw, _ := btcFixture(t)
	mwebRaw, _, hogRaw := mwebFixture(t, false, fixtureExtension)
	markerAt := len(mwebRaw) - len(fixtureExtension) - 1
	hogAt := markerAt - len(hogRaw)

	patch := func(b []byte, at int, v ...byte) []byte {
		c := bytes.Clone(b)
		copy(c[at:], v)
		return c
	}

	cases := []struct {
		name   string
		chain  string
		raw    []byte
		kind   error
		want   string // substring of the message
		offset int    // -1: not checked
		tx     int
	}{
		{"empty", "btc", nil, ErrTruncated, "block header needs 80 bytes, the data has 0", 0, -1},
		{"short header", "btc", btcRaw[:79], ErrTruncated, "the data has 79", 0, -1},
		{"header only", "btc", btcRaw[:80], ErrTruncated, "transaction count", 80, -1},
		{"zero transactions", "btc", rawBlock(t, 0), ErrMalformed, "block has no transactions", 80, -1},
		{"2^60 transactions", "btc", rawBlock(t, 0xff, "0000000000000010"), ErrTruncated, "transaction count 1152921504606846976 cannot fit", 80, -1},
		{"2^64-1 transactions", "btc", rawBlock(t, 0xff, "ffffffffffffffff", txVersion), ErrTruncated, "transaction count 18446744073709551615", 80, -1},
		{"non-canonical count", "btc", rawBlock(t, 0xfd, "0100", txVersion), ErrMalformed, "non-canonical", 80, -1},
		{"count cut short", "btc", rawBlock(t, 0xfe, "0100"), ErrTruncated, "ends inside its variable-length integer", 80, -1},
		{"huge input count", "btc", rawBlock(t, 1, txVersion, "feffffffff", "0000000000"), ErrTruncated, "input count 4294967295", 85, 0},
		{"huge script length", "btc", rawBlock(t, 1, txVersion, "01", strings.Repeat("11", 36), "feffffff7f", "00"), ErrTruncated,
			"input 0 signature script length 2147483647 exceeds", 122, 0},
		{"huge output count", "btc", rawBlock(t, 1, txVersion, "01", nullInput, "ff0000000000000010"), ErrTruncated, "output count 1152921504606846976", 127, 0},
		{"script runs past the end", "btc", rawBlock(t, 1, txVersion, "01", nullInput, "01", "0000000000000000 19 76a914"), ErrTruncated, "output 0 script length 25 exceeds the 3 bytes left", 136, 0},
		{"no locktime", "btc", rawBlock(t, 1, txVersion, "01", nullInput, "01", tinyOutput), ErrTruncated, "locktime needs 4 bytes, 0 left", 137, 0},
		{"huge witness item count", "btc", rawBlock(t, 1, txVersion, "0001 01", someInput, "01", tinyOutput, "feffffffff", lockTime), ErrTruncated,
			"input 0 witness item count 4294967295", 139, 0},
		{"witness item too long", "btc", rawBlock(t, 1, txVersion, "0001 01", someInput, "01", tinyOutput, "01 fd0001", lockTime), ErrTruncated,
			"input 0 witness item length 256 exceeds", 140, 0},
		{"unknown flag", "btc", rawBlock(t, 1, txVersion, "0002 01", someInput, "01", tinyOutput, lockTime), ErrMalformed, "unknown transaction flags 0x02", 86, 0},
		{"MWEB flag on Bitcoin", "btc", rawBlock(t, 1, txVersion, "0008 01", someInput, "01", tinyOutput, "00", lockTime), ErrMalformed, "Litecoin", 86, 0},
		{"marker without flags", "btc", rawBlock(t, 1, txVersion, "0000", lockTime), ErrMalformed, "no inputs and no flags", 86, 0},
		{"superfluous witness", "btc", rawBlock(t, 1, txVersion, "0001 01", someInput, "01", tinyOutput, "00", lockTime), ErrMalformed,
			"every input's witness is empty", 139, 0},
		{"second tx cut short", "btc", append(rawBlock(t, 2, txVersion, "01", nullInput, "01", tinyOutput, lockTime), 1, 0), ErrTruncated, "tx 1 at byte 141: version", 141, 1},
		{"trailing byte", "btc", append(bytes.Clone(btcRaw), 0), ErrMalformed, "1 trailing bytes", len(btcRaw), -1},
		{"trailing block", "btc", append(bytes.Clone(btcRaw), btcRaw...), ErrMalformed, "trailing bytes", len(btcRaw), -1},
		{"merkle mismatch", "btc", patch(btcRaw, len(btcRaw)-1, 0x01), ErrMerkleRoot, "hash to merkle root", 36, -1},
		{"MWEB body in a block tx", "ltc", patch(mwebRaw, markerAt-5, 0x01), ErrMalformed, "carries an MWEB body", markerAt - 5, 2},
		{"bad MWEB presence byte", "ltc", patch(mwebRaw, markerAt-5, 0x02), ErrMalformed, "MWEB presence byte is 0x02", markerAt - 5, 2},
		{"HogEx without outputs", "ltc", rawBlock(t, 2, txVersion, "01", nullInput, "01", tinyOutput, lockTime, txVersion, "0008 00 00 00", lockTime, "00"),
			ErrMalformed, "HogEx transaction has no outputs", 149, 1},
		{"HogEx not last", "ltc", rawBlock(t, 3, txVersion, "01", nullInput, "01", tinyOutput, lockTime,
			txVersion, "0008 00 01", tinyOutput, "00", lockTime, txVersion, "01", someInput, "01", tinyOutput, lockTime),
			ErrMalformed, "HogEx transaction 1 is not the last of the 3", -1, 1},
		{"bad extension marker", "ltc", patch(mwebRaw, markerAt, 0x02), ErrMalformed, "extension block marker is 0x02", markerAt, -1},
		{"extension marker without block", "ltc", mwebRaw[:markerAt+1], ErrTruncated, "not followed by the MWEB block", markerAt + 1, -1},
		{"no extension marker", "ltc", mwebRaw[:markerAt], ErrTruncated, "extension block marker", markerAt, -1},
		{"HogEx cut short", "ltc", mwebRaw[:hogAt+10], ErrTruncated, "tx 2 at byte", -1, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Decode(c.raw, mustParams(t, c.chain, "mainnet"))
			if err == nil {
				t.Fatalf("decoded %d txs, want an error", len(b.Txs))
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *DecodeError", err, err)
			}
			if !errors.Is(err, c.kind) {
				t.Errorf("error %q is not %v", err, c.kind)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if c.offset >= 0 && de.Offset != c.offset {
				t.Errorf("offset %d, want %d (%v)", de.Offset, c.offset, err)
			}
			if de.Tx != c.tx {
				t.Errorf("tx %d, want %d (%v)", de.Tx, c.tx, err)
			}
		})
	}
}

// TestDecodeTruncatedEverywhere cuts the fixtures at every length: every
// cut inside the canonical block must fail as truncated. Cuts inside the
// MWEB extension block decode, since its bytes are not parsed.
func TestDecodeTruncatedEverywhere(t *testing.T) {
	btcRaw, _ := btcFixture(t)
	mwebRaw, _, _ := mwebFixture(t, true, fixtureExtension)
	markerAt := len(mwebRaw) - len(fixtureExtension) - 1
	for _, c := range []struct {
		chain      string
		raw        []byte
		okFromSize int // shortest prefix that decodes
	}{
		{"btc", btcRaw, len(btcRaw)},
		{"ltc", mwebRaw, markerAt + 2},
	} {
		p := mustParams(t, c.chain, "mainnet")
		for n := 0; n < len(c.raw); n++ {
			b, err := Decode(c.raw[:n], p)
			switch {
			case n >= c.okFromSize:
				if err != nil || !b.MWEB {
					t.Errorf("%s cut at %d (in the extension block): %v", c.chain, n, err)
				}
			case err == nil:
				t.Errorf("%s cut at %d of %d: decoded", c.chain, n, len(c.raw))
			case !errors.Is(err, ErrTruncated):
				t.Errorf("%s cut at %d: %v, want ErrTruncated", c.chain, n, err)
			}
		}
	}
}

// TestDecodeMutatedEverywhere overwrites each byte of the fixtures with a
// few values: whatever the result, Decode must return, not panic, and fail
// with a *DecodeError.
func TestDecodeMutatedEverywhere(t *testing.T) {
	btcRaw, _ := btcFixture(t)
	mwebRaw, _, _ := mwebFixture(t, false, fixtureExtension)
	for _, c := range []struct {
		chain string
		raw   []byte
	}{{"btc", btcRaw}, {"ltc", mwebRaw}} {
		p := mustParams(t, c.chain, "mainnet")
		buf := bytes.Clone(c.raw)
		for i := range buf {
			orig := buf[i]
			for _, v := range []byte{0x00, 0x01, 0x08, 0xfd, 0xfe, 0xff, orig ^ 0x80} {
				buf[i] = v
				if _, err := Decode(buf, p); err != nil {
					var de *DecodeError
					if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(buf) {
						t.Fatalf("%s byte %d = %#x: bad error %v", c.chain, i, v, err)
					}
				}
			}
			buf[i] = orig
		}
	}
}

func TestDecodeNilParams(t *testing.T) {
	raw, _ := btcFixture(t)
	if _, err := Decode(raw, nil); err == nil {
		t.Fatal("decoded without parameters")
	}
}
