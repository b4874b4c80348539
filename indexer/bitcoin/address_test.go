package bitcoin

import "testing"

func TestValidateAddress(t *testing.T) {
	p := func(chain, net string) *Params {
		ps, err := ParamsFor(chain, net)
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	btc, btcReg, ltc, ltcReg := p("btc", "mainnet"), p("btc", "regtest"), p("ltc", "mainnet"), p("ltc", "regtest")
	good := []struct {
		addr string
		p    *Params
	}{
		{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", btc},                             // P2PKH
		{"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", btc},                             // P2SH
		{"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", btc},                     // BIP173 P2WPKH
		{"bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297", btc}, // BIP350 taproot
		{"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", btc},                     // upper case
		{"bcrt1qjypjvur70c56dkgnpvj6rfhxac0j0jmzqqw8sd", btcReg},                // the stack's mining address
		{"ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfea", ltc},                    // Litecoin bech32
		{"LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1", ltc},                             // Litecoin P2PKH
		{"MQMcJhpWHYVeQArcZR3sBgyPZxxRtnH441", ltc},                             // Litecoin P2SH (M)
		{"rltc1qxzaz87g2lum5hz9pl38zzc082ye648560gh97j", ltcReg},                // regtest
	}
	for _, g := range good {
		if err := ValidateAddress(g.addr, g.p); err != nil {
			t.Errorf("%s on %s/%s: %v", g.addr, g.p.Chain, g.p.Network, err)
		}
	}
	bad := []struct {
		addr string
		p    *Params
	}{
		{"", btc},
		{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", btc},                             // checksum
		{"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", btc},                     // bech32 checksum
		{"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", btcReg},                  // mainnet on regtest
		{"ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfea", btc},                    // Litecoin on Bitcoin
		{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", ltc},                             // Bitcoin P2PKH on Litecoin
		{"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", btc}, // BIP350: v1 with bech32, not bech32m
		{"0x52908400098527886E0F7030069857D2E4169EE7", btc},
		{"not an address", btc},
	}
	for _, b := range bad {
		if err := ValidateAddress(b.addr, b.p); err == nil {
			t.Errorf("%q accepted on %s/%s", b.addr, b.p.Chain, b.p.Network)
		}
	}
}
