package bitcoin

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/txscript"
)

func TestAddressScript(t *testing.T) {
	p := func(chain, net string) *Params {
		ps, err := ParamsFor(chain, net)
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	btc, btcReg, ltc, ltcReg := p("btc", "mainnet"), p("btc", "regtest"), p("ltc", "mainnet"), p("ltc", "regtest")

	// Bitcoin: the same script as btcd's own decoder and txscript.
	for _, a := range []struct {
		addr string
		p    *Params
	}{
		{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", btc},
		{"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", btc},
		{"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", btc},
		{"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", btc},
		{"bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3", btc}, // P2WSH
		{"bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297", btc}, // taproot
		{"bcrt1qjypjvur70c56dkgnpvj6rfhxac0j0jmzqqw8sd", btcReg},
	} {
		got, err := AddressScript(a.addr, a.p)
		if err != nil {
			t.Errorf("%s: %v", a.addr, err)
			continue
		}
		dec, err := btcutil.DecodeAddress(a.addr, a.p.ChainParams)
		if err != nil {
			t.Fatal(err)
		}
		want, err := txscript.PayToAddrScript(dec)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: script %x, want %x", a.addr, got, want)
		}
	}

	// Litecoin: ClassifyScript reads the script back to the address.
	for _, a := range []struct {
		addr, back string
		p          *Params
		typ        string
	}{
		{"ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfea", "", ltc, TypeP2WPKH},
		{"LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1", "", ltc, TypeP2PKH},
		{"MQMcJhpWHYVeQArcZR3sBgyPZxxRtnH441", "", ltc, TypeP2SH},
		{"rltc1qxzaz87g2lum5hz9pl38zzc082ye648560gh97j", "", ltcReg, TypeP2WPKH},
		// Litecoin's legacy P2SH version: the same script, read back in the 'M' form
		{"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "MQMHBtvnBfxTzt3K2bdxgSE7qZPHSXWsGM", ltc, TypeP2SH},
	} {
		s, err := AddressScript(a.addr, a.p)
		if err != nil {
			t.Errorf("%s: %v", a.addr, err)
			continue
		}
		typ, back := ClassifyScript(s, a.p)
		want := a.back
		if want == "" {
			want = a.addr
		}
		if typ != a.typ || back == nil || *back != want {
			t.Errorf("%s: script %x reads back as %s %v, want %s %s", a.addr, s, typ, back, a.typ, want)
		}
	}

	// The legacy '3' address pays the very script Bitcoin's does.
	l, _ := AddressScript("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", ltc)
	b, _ := AddressScript("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", btc)
	if !bytes.Equal(l, b) || hex.EncodeToString(l) != "a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87" {
		t.Errorf("legacy P2SH: %x and %x", l, b)
	}

	for _, a := range []struct {
		addr string
		p    *Params
	}{
		{"", btc},
		{"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", btc}, // checksum
		{"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", btcReg},
		{"ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfea", btc},
		{"rltc1qxzaz87g2lum5hz9pl38zzc082ye648560gh97j", ltc},
		{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", ltc},
		{"tmweb1qq0000", ltcReg},
		{"not an address", btc},
	} {
		if s, err := AddressScript(a.addr, a.p); err == nil {
			t.Errorf("%q on %s/%s: script %x, want an error", a.addr, a.p.Chain, a.p.Network, s)
		}
	}
}

// FuzzAddressScript: any string either fails or gives a script whose
// address (as ClassifyScript writes it) gives the same script again.
func FuzzAddressScript(f *testing.F) {
	for _, s := range []string{"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
		"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfea", "MQMcJhpWHYVeQArcZR3sBgyPZxxRtnH441",
		"bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297", ""} {
		f.Add(s)
	}
	params := []*Params{}
	for _, chain := range []string{ChainBTC, ChainLTC} {
		for _, n := range Networks(chain) {
			p, err := ParamsFor(chain, n)
			if err != nil {
				f.Fatal(err)
			}
			params = append(params, p)
		}
	}
	f.Fuzz(func(t *testing.T, addr string) {
		for _, p := range params {
			s, err := AddressScript(addr, p)
			if err != nil {
				continue
			}
			_, back := ClassifyScript(s, p)
			if back == nil {
				t.Fatalf("%q on %s/%s: script %x has no address", addr, p.Chain, p.Network, s)
			}
			again, err := AddressScript(*back, p)
			if err != nil || !bytes.Equal(again, s) {
				t.Fatalf("%q on %s/%s: script %x → %s → %x, %v", addr, p.Chain, p.Network, s, *back, again, err)
			}
		}
	})
}
