package devnet

import (
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/bech32"

	"github.com/sluicepay/sluice/indexer/bitcoin"
)

// segwit encodes a witness program (v0 with bech32, else bech32m) under hrp.
func segwit(t *testing.T, hrp string, ver byte, prog []byte, m bool) string {
	t.Helper()
	data, err := bech32.ConvertBits(prog, 8, 5, true)
	if err != nil {
		t.Fatal(err)
	}
	enc := bech32.Encode
	if m {
		enc = bech32.EncodeM
	}
	s, err := enc(hrp, append([]byte{ver}, data...))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidateAddress(t *testing.T) {
	h20, h32 := make([]byte, 20), make([]byte, 32)
	for i := range h32 {
		h32[i] = byte(i + 1)
	}
	copy(h20, h32)
	ltcParams, err := bitcoin.ParamsFor("ltc", "regtest")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := btcec.NewPrivateKey()
	ltcAddr, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(key.PubKey().SerializeCompressed()), ltcParams.ChainParams)
	if err != nil {
		t.Fatal(err)
	}
	btcFresh, err := NewBTCAddress()
	if err != nil {
		t.Fatal(err)
	}
	ethFresh, err := NewETHAddress()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(btcFresh, "bcrt1q") || !strings.HasPrefix(ethFresh, "0x") || ethFresh == strings.ToLower(ethFresh) {
		t.Errorf("fresh addresses %s, %s: want bcrt1q… and a checksummed 0x…", btcFresh, ethFresh)
	}
	valid := "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
	flip := func(s string) string { // change the last character: breaks the checksum
		last := s[len(s)-1]
		r := byte('q')
		if last == 'q' {
			r = 'p'
		}
		return s[:len(s)-1] + string(r)
	}
	for _, c := range []struct {
		chain, addr string
		err         string // "" for valid
	}{
		{"btc", btcFresh, ""},
		{"btc", valid, ""},
		{"BTC", strings.ToUpper(valid), ""},
		{"btc", segwit(t, "bcrt", 0, h32, false), ""},                    // P2WSH
		{"btc", segwit(t, "bcrt", 1, h32, true), ""},                     // P2TR
		{"btc", "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", ""},                // regtest/testnet P2PKH
		{"btc", "2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc", ""},               // regtest/testnet P2SH
		{"ltc", ltcAddr.EncodeAddress(), ""},                             // rltc1q…
		{"ltc", base58.CheckEncode(h20, ltcParams.ScriptHashAddrID), ""}, // Q… P2SH
		{"ltc", base58.CheckEncode(h20, 0xc4), ""},                       // legacy P2SH version
		{"eth", ethFresh, ""},
		{"eth", strings.ToLower(ethFresh), ""},
		{"eth", "0x" + strings.ToUpper(ethFresh[2:]), ""},
		{"eth", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ""}, // EIP-55 example

		{"btc", "", "no destination"},
		{"btc", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "BTC mainnet address"},
		{"btc", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "BTC testnet address"},
		{"btc", ltcAddr.EncodeAddress(), "LTC regtest address"},
		{"btc", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "BTC mainnet address"},
		{"btc", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "BTC mainnet address"},
		{"btc", flip(valid), "not a valid bcrt1… address: the checksum does not match"},
		{"btc", segwit(t, "bcrt", 0, h20, true), "must use bech32, not bech32m"},
		{"btc", segwit(t, "bcrt", 1, h32, false), "must use bech32m"},
		{"btc", segwit(t, "bcrt", 0, h32[:25], false), "20 or 32 bytes"},
		{"btc", segwit(t, "bcrt", 1, h32[:1], true), "2 to 40 bytes"},
		{"btc", "bcrt1", "not a valid bcrt1… address"},
		{"btc", "hello", "not a BTC regtest address"},
		{"btc", base58.CheckEncode(h20, 0x99), "version byte 0x99"},
		{"btc", base58.CheckEncode(h32, 0x6f), "not a BTC regtest address"},
		{"btc", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "not a BTC regtest address"},
		{"ltc", valid, "BTC regtest address"},
		{"ltc", segwit(t, "ltc", 0, h20, false), "LTC mainnet address"},
		{"ltc", segwit(t, "tltc", 0, h20, false), "LTC testnet4 address"},
		{"ltc", base58.CheckEncode(h20, 0x30), "LTC mainnet address"},
		{"ltc", "tmweb1qqtfu8pmwa4c94hev92m6r7zf0qudraxm360382tz0zsq4z60sfvz6qjw4dq5u7kdshuj4kacgs2wajns3uumgyvg5ampzwn6583j697gyyy52pwm", "MWEB addresses are not supported"},
		{"eth", "0x5aaeB6053F3E94C9b9A09f33669435E7Ef1BeAed", "EIP-55 checksum"},
		{"eth", "0x1234", "not an Ethereum address"},
		{"eth", "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "not an Ethereum address"},
		{"eth", "0x" + strings.Repeat("g", 40), "not an Ethereum address"},
		{"eth", "0x" + strings.Repeat("0", 40), "zero address"},
		{"eth", valid, "not an Ethereum address"},
		{"doge", valid, `unknown chain "doge"`},
	} {
		err := ValidateAddress(c.chain, c.addr)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s %q: %v", c.chain, c.addr, err)
		case c.err != "" && err == nil:
			t.Errorf("%s %q: valid, want an error with %q", c.chain, c.addr, c.err)
		case c.err != "" && !strings.Contains(err.Error(), c.err):
			t.Errorf("%s %q: error %q, want it to say %q", c.chain, c.addr, err, c.err)
		}
	}
}

func TestNewAddressesAreFresh(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		for _, f := range []func() (string, error){NewBTCAddress, NewETHAddress} {
			a, err := f()
			if err != nil {
				t.Fatal(err)
			}
			if seen[a] {
				t.Fatalf("%s twice", a)
			}
			seen[a] = true
		}
	}
}
