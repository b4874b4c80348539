package bitcoin

import (
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
)

func TestParamsFor(t *testing.T) {
	cases := []struct {
		chain, network string
		canonical      string
		p2pkh, p2sh    byte
		legacyP2SH     byte
		hrp            string
		magic          string
		mweb           bool
		genesis        string
	}{
		{"btc", "mainnet", "mainnet", 0x00, 0x05, 0x05, "bc", "f9beb4d9", false, "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"},
		{"btc", "testnet", "testnet", 0x6f, 0xc4, 0xc4, "tb", "0b110907", false, "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943"},
		{"btc", "testnet3", "testnet", 0x6f, 0xc4, 0xc4, "tb", "0b110907", false, ""},
		{"btc", "regtest", "regtest", 0x6f, 0xc4, 0xc4, "bcrt", "fabfb5da", false, "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"},
		{"btc", "signet", "signet", 0x6f, 0xc4, 0xc4, "tb", "0a03cf40", false, "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6"},
		{"ltc", "mainnet", "mainnet", 0x30, 0x32, 0x05, "ltc", "fbc0b6db", true, "12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2"},
		{"ltc", "testnet4", "testnet4", 0x6f, 0x3a, 0xc4, "tltc", "fdd2c8f1", true, "4966625a4b2851d9fdee139e56211a0d88575f59ed816ff5e6a63deb4e3e29a0"},
		{"LTC", " Testnet ", "testnet4", 0x6f, 0x3a, 0xc4, "tltc", "fdd2c8f1", true, ""},
		{"ltc", "regtest", "regtest", 0x6f, 0x3a, 0xc4, "rltc", "fabfb5da", true, "530827f38f93b43ed12af0b3ad25a288dc02ed74d6d7857862df51fc56c416f9"},
	}
	for _, c := range cases {
		t.Run(c.chain+"/"+c.network, func(t *testing.T) {
			p, err := ParamsFor(c.chain, c.network)
			if err != nil {
				t.Fatal(err)
			}
			if p.Chain != strings.ToLower(c.chain) || p.Network != c.canonical || p.PubKeyHashAddrID != c.p2pkh ||
				p.ScriptHashAddrID != c.p2sh || p.LegacyScriptHashAddrID != c.legacyP2SH || p.Bech32HRP != c.hrp ||
				hex.EncodeToString(p.Magic[:]) != c.magic || p.MWEB != c.mweb {
				t.Errorf("got %+v", p)
			}
			cp := p.ChainParams
			if cp == nil || cp.PubKeyHashAddrID != c.p2pkh || cp.ScriptHashAddrID != c.p2sh || cp.Bech32HRPSegwit != c.hrp {
				t.Fatalf("ChainParams disagree: %+v", cp)
			}
			if c.genesis != "" && (cp.GenesisHash == nil || cp.GenesisHash.String() != c.genesis) {
				t.Errorf("genesis %v, want %s", cp.GenesisHash, c.genesis)
			}
			// btcutil encodes with these parameters as the decoder does.
			a, err := btcutil.NewAddressWitnessPubKeyHash(make([]byte, 20), cp)
			if err != nil || !strings.HasPrefix(a.EncodeAddress(), c.hrp+"1") {
				t.Errorf("btcutil address %v %v", a, err)
			}
		})
	}
}

func TestParamsForUnknown(t *testing.T) {
	if _, err := ParamsFor("doge", "mainnet"); err == nil || !strings.Contains(err.Error(), "valid chains are btc, ltc") {
		t.Errorf("unknown chain: %v", err)
	}
	_, err := ParamsFor("ltc", "signet")
	if err == nil || !strings.Contains(err.Error(), "valid networks are mainnet, testnet4, regtest") {
		t.Errorf("unknown network: %v", err)
	}
	if got := Networks("btc"); !slices.Equal(got, []string{"mainnet", "testnet", "regtest", "signet"}) {
		t.Errorf("Networks(btc) = %v", got)
	}
}

// TestParamsIsolated checks that parameters are fresh values: changing one
// affects neither btcd's globals nor later calls, and Litecoin's are never
// registered with chaincfg.
func TestParamsIsolated(t *testing.T) {
	p := mustParams(t, "btc", "mainnet")
	p.ChainParams.Bech32HRPSegwit = "xx"
	p.Bech32HRP = "xx"
	if chaincfg.MainNetParams.Bech32HRPSegwit != "bc" || mustParams(t, "btc", "mainnet").Bech32HRP != "bc" {
		t.Error("a caller's change leaked")
	}
	mustParams(t, "ltc", "mainnet")
	if chaincfg.IsBech32SegwitPrefix("ltc1") {
		t.Error("Litecoin parameters were registered with chaincfg")
	}
}
