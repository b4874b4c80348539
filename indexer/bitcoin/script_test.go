package bitcoin

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/base58"
)

// TestClassifyScript covers each type with the addresses of published test
// vectors, and the edges of Core's templates.
func TestClassifyScript(t *testing.T) {
	btc := mustParams(t, "btc", "mainnet")
	btcTest := mustParams(t, "btc", "testnet")
	ltc := mustParams(t, "ltc", "mainnet")
	ltcTest := mustParams(t, "ltc", "testnet4")
	key33 := "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
	key65 := "04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5f"
	cases := []struct {
		name   string
		p      *Params
		script string
		typ    string
		addr   string
	}{
		// BIP 173 / BIP 350 vectors.
		{"p2wpkh", btc, "0014751e76e8199196d454941c45d1b3a323f1433bd6", TypeP2WPKH, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"},
		{"p2wsh", btc, "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262", TypeP2WSH, "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"},
		{"p2wsh testnet", btcTest, "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262", TypeP2WSH, "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"},
		{"p2tr", btc, "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", TypeP2TR, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"},
		{"p2tr testnet", btcTest, "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433", TypeP2TR, "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c"},
		{"v0 32 bytes of zeros testnet", btcTest, "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433", TypeP2WSH, "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy"},
		{"v1 40 bytes is witness_unknown", btc, "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6", TypeWitnessUnknown,
			"bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y"},
		{"v16", btc, "6002751e", TypeWitnessUnknown, "bc1sw50qgdz25j"},
		{"v2", btc, "5210751e76e8199196d454941c45d1b3a323", TypeWitnessUnknown, "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs"},
		{"v0 of 21 bytes", btc, "0015751e76e8199196d454941c45d1b3a323f1433bd600", TypeNonStandard, ""},
		{"push of 41 bytes is no program", btc, "5129" + strings.Repeat("00", 41), TypeNonStandard, ""},
		{"push of 1 byte is no program", btc, "510100", TypeNonStandard, ""},
		// base58: the genesis output's key hash, btcd's address vectors.
		{"p2pkh", btc, "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac", TypeP2PKH, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"},
		{"p2pkh zero hash", btc, "76a914000000000000000000000000000000000000000088ac", TypeP2PKH, "1111111111111111111114oLvT2"},
		{"p2sh", btc, "a914f815b036d9bbbce5e9f2a00abd1bf3dc91e9551087", TypeP2SH, "3QJmV3qfvL9SuYo34YihAf3sRCW3qSinyC"},
		{"ltc p2pkh", ltc, "76a91413c60d8e68d7349f5b4ca362c3954b15045061b188ac", TypeP2PKH, "LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1"},
		{"ltc p2sh uses 0x32", ltc, "a914ee34ac676bdaf6e370c8c820b948edfad3a873d887", TypeP2SH, "MVcg9uEvtWuP5N6V48EHfEtbz48qR8TKZ9"},
		{"ltc p2wpkh", ltc, "0014751e76e8199196d454941c45d1b3a323f1433bd6", TypeP2WPKH, "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9"},
		// From a Litecoin Core getblock answer (block 2383206's coinbase).
		{"ltc p2pkh from litecoind", ltc, "76a9142e9df0aa5f77ef3e46cbf24d3f6d32288d5ca09388ac", TypeP2PKH, "LPUSYubqPVb46fGu88uGwR42u8jCBxqwqx"},
		{"ltc testnet4 p2wpkh", ltcTest, "0014751e76e8199196d454941c45d1b3a323f1433bd6", TypeP2WPKH, "tltc1qw508d6qejxtdg4y5r3zarvary0c5xw7klfsuq0"},
		// MWEB programs have no address on Litecoin, but do on Bitcoin. The
		// v8 addresses and the testnet4 one were computed with the BIP 173
		// reference algorithm (Python), separately from this package.
		{"ltc hogaddr", ltc, "5820" + strings.Repeat("ab", 32), TypeWitnessUnknown, ""},
		{"ltc peg-in", ltc, "5920" + strings.Repeat("cd", 32), TypeWitnessUnknown, ""},
		{"ltc v8 of 20 bytes has an address", ltc, "5814" + strings.Repeat("ab", 20), TypeWitnessUnknown, "ltc1g4w46h2at4w46h2at4w46h2at4w46h2at3jjumg"},
		{"btc v8", btc, "5820" + strings.Repeat("ab", 32), TypeWitnessUnknown, "bc1g4w46h2at4w46h2at4w46h2at4w46h2at4w46h2at4w46h2at4w4s2gmdq2"},
		// No address, per current Bitcoin Core.
		{"p2pk compressed", btc, "21" + key33 + "ac", TypeP2PK, ""},
		{"p2pk uncompressed", btc, "41" + key65 + "ac", TypeP2PK, ""},
		{"p2pk hybrid 06 prefix", btc, "4106" + key65[2:] + "ac", TypeP2PK, ""},
		{"p2pk bad prefix", btc, "2105" + key33[2:] + "ac", TypeNonStandard, ""},
		{"p2pk 33 bytes with 04 prefix", btc, "2104" + key33[2:] + "ac", TypeNonStandard, ""},
		{"multisig 1-of-1", btc, "5121" + key33 + "51ae", TypeMultisig, ""},
		{"multisig 1-of-2", btc, "5121" + key33 + "41" + key65 + "52ae", TypeMultisig, ""},
		{"multisig 2-of-1", btc, "5221" + key33 + "51ae", TypeNonStandard, ""},
		{"multisig n mismatch", btc, "5121" + key33 + "52ae", TypeNonStandard, ""},
		{"multisig 0 keys", btc, "5151ae", TypeNonStandard, ""}, // n=1 but no key
		{"multisig m as OP_0", btc, "0021" + key33 + "51ae", TypeNonStandard, ""},
		{"multisig bad key", btc, "512105" + key33[2:] + "51ae", TypeNonStandard, ""},
		{"multisig trailing op", btc, "5121" + key33 + "51aeae", TypeNonStandard, ""},
		{"multisig 17 keys, n as push", btc, "0111" + strings.Repeat("21"+key33, 17) + "0111ae", TypeMultisig, ""},
		{"multisig 17 as non-minimal push", btc, "0111" + strings.Repeat("21"+key33, 17) + "020011ae", TypeNonStandard, ""},
		{"multisig 21 keys", btc, "51" + strings.Repeat("21"+key33, 21) + "0115ae", TypeNonStandard, ""},
		{"multisig truncated key", btc, "5121" + key33[:20] + "ae", TypeNonStandard, ""},
		{"nulldata", btc, "6a0b68656c6c6f20776f726c64", TypeNullData, ""},
		{"bare OP_RETURN", btc, "6a", TypeNullData, ""},
		{"OP_RETURN with small ints", btc, "6a515260", TypeNullData, ""},
		{"OP_RETURN PUSHDATA1", btc, "6a4c03abcdef", TypeNullData, ""},
		{"OP_RETURN PUSHDATA2 past the end", btc, "6a4d0500abcd", TypeNonStandard, ""},
		{"OP_RETURN then OP_DUP", btc, "6a0100" + "76", TypeNonStandard, ""},
		{"OP_RETURN witness commitment", btc, "6a24aa21a9ed" + strings.Repeat("00", 32), TypeNullData, ""},
		{"empty", btc, "", TypeNonStandard, ""},
		{"OP_TRUE", btc, "51", TypeNonStandard, ""},
		{"p2pkh with OP_EQUAL", btc, "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1887ac", TypeNonStandard, ""},
		{"p2sh one byte long", btc, "a914f815b036d9bbbce5e9f2a00abd1bf3dc91e955108700", TypeNonStandard, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			script := mustHex(t, c.script)
			typ, addr := ClassifyScript(script, c.p)
			if typ != c.typ || deref(addr) != orNil(c.addr) {
				t.Errorf("%s: %s %s, want %s %s", c.script, typ, deref(addr), c.typ, orNil(c.addr))
			}
		})
	}
}

// TestBase58CheckMatchesBtcutil compares the fixed-size encoder with
// btcutil's general one on random hashes and on hashes with leading zeros.
func TestBase58CheckMatchesBtcutil(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	hash := make([]byte, 20)
	for i := 0; i < 20000; i++ {
		for j := range hash {
			hash[j] = byte(r.Uint32())
		}
		// Zero a random prefix, and use version 0 often, to cover the
		// leading '1' digits.
		for j := 0; j < r.IntN(22) && j < 20; j++ {
			hash[j] = 0
		}
		version := byte(r.Uint32())
		if i%3 == 0 {
			version = 0
		}
		if got, want := base58Check(version, hash), base58.CheckEncode(hash, version); got != want {
			t.Fatalf("version %#x hash %x: %s, btcutil %s", version, hash, got, want)
		}
	}
	for _, v := range []byte{0x00, 0x05, 0x30, 0x32, 0x6f, 0xc4, 0xff} {
		for _, h := range [][]byte{make([]byte, 20), bytes.Repeat([]byte{0xff}, 20)} {
			if got, want := base58Check(v, h), base58.CheckEncode(h, v); got != want {
				t.Errorf("version %#x hash %x: %s, btcutil %s", v, h, got, want)
			}
		}
	}
}

// TestClassifyScriptAllocs holds classification without an address to
// zero allocations: it runs on every output of every block.
func TestClassifyScriptAllocs(t *testing.T) {
	p := mustParams(t, "btc", "mainnet")
	scripts := [][]byte{
		mustHex(t, "6a24aa21a9ed"+strings.Repeat("00", 32)),
		mustHex(t, "5121"+"0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"+"51ae"),
		mustHex(t, "51"),
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, s := range scripts {
			if _, a := ClassifyScript(s, p); a != nil {
				t.Fatal("address for a script without one")
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per run, want 0", allocs)
	}
}

func BenchmarkClassifyScript(b *testing.B) {
	p := mustParams(b, "btc", "mainnet")
	for _, c := range []struct{ name, script string }{
		{"p2pkh", "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac"},
		{"p2wpkh", "0014751e76e8199196d454941c45d1b3a323f1433bd6"},
		{"p2tr", "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"},
		{"nulldata", "6a24aa21a9ed" + strings.Repeat("00", 32)},
	} {
		script, _ := hex.DecodeString(c.script)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ClassifyScript(script, p)
			}
		})
	}
}
