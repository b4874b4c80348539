package bitcoin

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// Hand-made blocks that need nothing from ../shared: built with btcd's wire
// where it can express them, by hand for Litecoin's MWEB parts.

// fixtureOutput is an output script with the type and address it must
// decode to. Addresses are published test vectors (BIP 173, BIP 350, btcd's
// address tests, the genesis coinbase), not values computed by this package.
type fixtureOutput struct {
	script string
	typ    string
	addr   string // "" for none
}

var btcFixtureOutputs = []fixtureOutput{
	{"0014751e76e8199196d454941c45d1b3a323f1433bd6", TypeP2WPKH, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"},
	{"00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262", TypeP2WSH, "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"},
	{"5120ef46d1aa78101e3350600a5d36045ba97c2670daa91e9f3a48c43c6e739754e6", TypeP2TR, "bc1paardr2nczq0rx5rqpfwnvpzm497zvux64y0f7wjgcs7xuuuh2nnqwr2d5c"},
	{"a914f815b036d9bbbce5e9f2a00abd1bf3dc91e9551087", TypeP2SH, "3QJmV3qfvL9SuYo34YihAf3sRCW3qSinyC"},
	{"76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac", TypeP2PKH, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"},
	{"6a0b68656c6c6f20776f726c64", TypeNullData, ""},
	{"51210279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f817982102c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee552ae", TypeMultisig, ""},
	{"4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac", TypeP2PK, ""},
	{"51", TypeNonStandard, ""},
	{"6002751e", TypeWitnessUnknown, "bc1sw50qgdz25j"},
}

const fixtureHeight = 700001

// coinbaseTx builds a segwit coinbase whose script starts with the BIP 34
// height, paying the given scripts.
func coinbaseTx(t testing.TB, height int64, scripts []fixtureOutput) *wire.MsgTx {
	t.Helper()
	var h [4]byte
	binary.LittleEndian.PutUint32(h[:], uint32(height))
	n := 4
	for n > 1 && h[n-1] == 0 && h[n-2]&0x80 == 0 {
		n--
	}
	sig := append([]byte{byte(n)}, h[:n]...)
	sig = append(sig, []byte("/sluice fixture/")...)
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Index: 0xffffffff},
		SignatureScript:  sig,
		Witness:          wire.TxWitness{make([]byte, 32)},
		Sequence:         0xffffffff,
	})
	for i, o := range scripts {
		tx.AddTxOut(wire.NewTxOut(int64(1000*(i+1)), mustHex(t, o.script)))
	}
	return tx
}

// spendTx builds a transaction spending prev:index; with a witness when
// segwit, else with a signature script.
func spendTx(t testing.TB, prev chainhash.Hash, index uint32, segwit bool, outScript string) *wire.MsgTx {
	t.Helper()
	tx := wire.NewMsgTx(1)
	in := wire.NewTxIn(wire.NewOutPoint(&prev, index), nil, nil)
	in.Sequence = 0xfffffffd
	if segwit {
		in.Witness = wire.TxWitness{bytes.Repeat([]byte{0x30}, 71), append([]byte{0x02}, bytes.Repeat([]byte{0x11}, 32)...)}
	} else {
		in.SignatureScript = append([]byte{0x47}, bytes.Repeat([]byte{0x30}, 71)...)
	}
	tx.AddTxIn(in)
	tx.AddTxOut(wire.NewTxOut(4242, mustHex(t, outScript)))
	tx.LockTime = fixtureHeight - 1
	return tx
}

func fixtureHeader(t testing.TB, txids []chainhash.Hash) wire.BlockHeader {
	t.Helper()
	ids := make([]string, len(txids))
	for i := range txids {
		ids[i] = txids[i].String()
	}
	root, err := chainhash.NewHashFromStr(refMerkleRoot(t, ids))
	if err != nil {
		t.Fatal(err)
	}
	prev := chainhash.DoubleHashH([]byte("previous block"))
	return wire.BlockHeader{
		Version:    0x20000000,
		PrevBlock:  prev,
		MerkleRoot: *root,
		Timestamp:  time.Unix(1700000000, 0),
		Bits:       0x17053894,
		Nonce:      12345,
	}
}

// btcFixture is a Bitcoin block with a segwit coinbase paying every output
// type, a segwit spend and a legacy spend.
func btcFixture(t testing.TB) (raw []byte, mb *wire.MsgBlock) {
	t.Helper()
	cb := coinbaseTx(t, fixtureHeight, btcFixtureOutputs)
	sw := spendTx(t, cb.TxHash(), 0, true, btcFixtureOutputs[0].script)
	legacy := spendTx(t, sw.TxHash(), 0, false, btcFixtureOutputs[4].script)
	txs := []*wire.MsgTx{cb, sw, legacy}
	ids := []chainhash.Hash{cb.TxHash(), sw.TxHash(), legacy.TxHash()}
	mb = &wire.MsgBlock{Header: fixtureHeader(t, ids), Transactions: txs}
	return blockBytes(t, mb), mb
}

// TestDecodeBTCFixture checks every field of the decoded fixture: header
// and output types against fixed expectations, transaction fields against
// btcd's encoder.
func TestDecodeBTCFixture(t *testing.T) {
	raw, mb := btcFixture(t)
	p := mustParams(t, "btc", "mainnet")
	b, err := Decode(raw, p)
	if err != nil {
		t.Fatal(err)
	}
	compareWithWire(t, b, mb, p)
	if b.Height != fixtureHeight || b.Size != len(raw) || b.MWEB || b.Version != 0x20000000 ||
		b.Time != time.Unix(1700000000, 0).UTC() || b.Bits != 0x17053894 || b.Nonce != 12345 {
		t.Errorf("header fields: %+v", b)
	}
	if b.PrevHash != chainhash.DoubleHashH([]byte("previous block")).String() {
		t.Errorf("PrevHash %s", b.PrevHash)
	}
	cb := b.Txs[0]
	if !cb.Coinbase || !cb.Vin[0].Coinbase || cb.Vin[0].PrevTxID != "0000000000000000000000000000000000000000000000000000000000000000" ||
		cb.Vin[0].PrevVout != 0xffffffff || cb.TxID == cb.Hash {
		t.Errorf("coinbase: %+v", cb)
	}
	for i, want := range btcFixtureOutputs {
		o := cb.Vout[i]
		if o.N != uint32(i) || o.Value != int64(1000*(i+1)) || o.Type != want.typ || deref(o.Address) != orNil(want.addr) {
			t.Errorf("output %d (%s): got %s %s, want %s %s", i, want.script, o.Type, deref(o.Address), want.typ, orNil(want.addr))
		}
	}
	sw, legacy := b.Txs[1], b.Txs[2]
	if sw.Coinbase || sw.Vin[0].Coinbase || sw.Vin[0].PrevTxID != cb.TxID || sw.Vin[0].PrevVout != 0 ||
		sw.Vin[0].Sequence != 0xfffffffd || sw.TxID == sw.Hash || sw.VSize >= sw.Size || sw.LockTime != fixtureHeight-1 {
		t.Errorf("segwit spend: %+v", sw)
	}
	if legacy.TxID != legacy.Hash || legacy.VSize != legacy.Size || legacy.Vin[0].PrevTxID != sw.TxID {
		t.Errorf("legacy spend: %+v", legacy)
	}
}

func orNil(s string) string {
	if s == "" {
		return "<nil>"
	}
	return s
}

// hogEx serializes a HogEx the way Litecoin Core does: the extended format
// with flags 0x08 (0x09 with a witness), and a 0x00 MWEB presence byte
// before the locktime. It returns the same transaction as btcd sees it
// without the MWEB parts, whose hashes are the HogEx's txid and wtxid.
func hogEx(t testing.TB, pegins []wire.OutPoint, mwebValue int64, witness bool) (raw []byte, plain *wire.MsgTx) {
	t.Helper()
	plain = wire.NewMsgTx(2)
	for _, op := range pegins {
		in := wire.NewTxIn(&op, nil, nil)
		if witness {
			in.Witness = wire.TxWitness{{0x01, 0x02, 0x03}}
		}
		plain.AddTxIn(in)
	}
	hogAddr := append([]byte{op1 + 7, 32}, bytes.Repeat([]byte{0xab}, 32)...)
	plain.AddTxOut(wire.NewTxOut(mwebValue, hogAddr))

	var buf bytes.Buffer
	full := txBytes(t, plain) // btcd's form: version [00 01] vin vout [witness] locktime
	flags := byte(flagMWEB)
	body := full[4 : len(full)-4]
	if witness {
		flags |= flagWitness
		body = body[2:] // drop btcd's marker and 0x01 flag
	}
	buf.Write(full[:4])
	buf.Write([]byte{0x00, flags})
	buf.Write(body)
	buf.WriteByte(0x00) // no MWEB transaction body: this is the HogEx
	buf.Write(full[len(full)-4:])
	return buf.Bytes(), plain
}

// ltcFixtureOutputs are Litecoin mainnet vectors from btcd's address tests.
var ltcFixtureOutputs = []fixtureOutput{
	{"0014751e76e8199196d454941c45d1b3a323f1433bd6", TypeP2WPKH, "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9"},
	{"76a91413c60d8e68d7349f5b4ca362c3954b15045061b188ac", TypeP2PKH, "LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1"},
	{"a914ee34ac676bdaf6e370c8c820b948edfad3a873d887", TypeP2SH, "MVcg9uEvtWuP5N6V48EHfEtbz48qR8TKZ9"},
}

// pegInScript is a witness v9 program: Litecoin's MWEB peg-in.
var pegInScript = "5920cd" + strings.Repeat("00", 31)

// mwebFixture is a Litecoin block laid out like an MWEB block: coinbase,
// a peg-in, the HogEx spending it, then 0x01 and an extension block (here
// opaque bytes, which is all the decoder reads of it).
func mwebFixture(t testing.TB, hogWitness bool, extension []byte) (raw []byte, txs []*wire.MsgTx, hogRaw []byte) {
	t.Helper()
	cb := coinbaseTx(t, 2500000, ltcFixtureOutputs)
	peg := spendTx(t, cb.TxHash(), 0, true, pegInScript)
	hog, plain := hogEx(t, []wire.OutPoint{{Hash: peg.TxHash(), Index: 0}}, 4242, hogWitness)
	txs = []*wire.MsgTx{cb, peg, plain}
	h := fixtureHeader(t, []chainhash.Hash{cb.TxHash(), peg.TxHash(), plain.TxHash()})
	var buf bytes.Buffer
	if err := h.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte(3)
	buf.Write(txBytes(t, cb))
	buf.Write(txBytes(t, peg))
	buf.Write(hog)
	if extension != nil {
		buf.WriteByte(0x01)
		buf.Write(extension)
	} else {
		buf.WriteByte(0x00)
	}
	return buf.Bytes(), txs, hog
}

var fixtureExtension = bytes.Repeat([]byte{0x5a, 0xa5, 0x00, 0xff}, 40)

func TestDecodeMWEBFixture(t *testing.T) {
	p := mustParams(t, "ltc", "mainnet")
	for _, c := range []struct {
		name       string
		hogWitness bool
		extension  []byte
	}{
		{"extension block", false, fixtureExtension},
		{"HogEx with witness", true, fixtureExtension},
		{"marker 0x00, no extension block", false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw, txs, hogRaw := mwebFixture(t, c.hogWitness, c.extension)
			b, err := Decode(raw, p)
			if err != nil {
				t.Fatal(err)
			}
			if b.MWEB != (c.extension != nil) || b.Size != len(raw) || b.Height != 2500000 || len(b.Txs) != 3 {
				t.Errorf("block: MWEB %v size %d height %d txs %d", b.MWEB, b.Size, b.Height, len(b.Txs))
			}
			for i, w := range txs {
				tx := b.Txs[i]
				if tx.TxID != w.TxHash().String() || tx.Hash != w.WitnessHash().String() || tx.HogEx != (i == 2) {
					t.Errorf("tx %d: txid %s hash %s hogex %v, want %s %s", i, tx.TxID, tx.Hash, tx.HogEx, w.TxHash(), w.WitnessHash())
				}
				// Weight leaves the MWEB bytes out; size keeps them.
				weight := w.SerializeSizeStripped()*3 + w.SerializeSize()
				if tx.VSize != (weight+3)/4 {
					t.Errorf("tx %d vsize %d, want %d", i, tx.VSize, (weight+3)/4)
				}
			}
			hog := b.Txs[2]
			if hog.Size != len(hogRaw) || hog.Size != txs[2].SerializeSize()+1+boolInt(!c.hogWitness)*2 {
				t.Errorf("HogEx size %d, serialized %d bytes", hog.Size, len(hogRaw))
			}
			if o := hog.Vout[0]; o.Type != TypeWitnessUnknown || o.Address != nil || o.Value != 4242 {
				t.Errorf("HogAddr output: %+v", o)
			}
			if o := b.Txs[1].Vout[0]; o.Type != TypeWitnessUnknown || o.Address != nil {
				t.Errorf("peg-in output: %+v", o)
			}
			if hog.Vin[0].PrevTxID != b.Txs[1].TxID {
				t.Errorf("HogEx input %s does not spend the peg-in %s", hog.Vin[0].PrevTxID, b.Txs[1].TxID)
			}
			for i, want := range ltcFixtureOutputs {
				if o := b.Txs[0].Vout[i]; o.Type != want.typ || deref(o.Address) != want.addr {
					t.Errorf("coinbase output %d: %s %s, want %s %s", i, o.Type, deref(o.Address), want.typ, want.addr)
				}
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
