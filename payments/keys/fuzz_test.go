package keys

import (
	"errors"
	"strings"
	"testing"

	"github.com/tyler-smith/go-bip39"
)

// FuzzParseSeed: any text is a seed or an ErrInvalidSeed, never a panic,
// and an error never repeats a secret-looking part of the input: a wordlist
// word of six letters or more (no message uses one), or eight hex digits.
func FuzzParseSeed(f *testing.F) {
	for _, s := range []string{abandon, strings.ToUpper(abandon), bip32Vectors[1].seed, "0x" + bip32Vectors[0].seed,
		"", "0x", "abandon", strings.Repeat("zoo ", 24), bip39Vectors[11].mnemonic, "caf\u00e9 \u00a0\u3000 x"} {
		f.Add(s, "")
		f.Add(s, "TREZOR")
	}
	f.Fuzz(func(t *testing.T, s, passphrase string) {
		seed, err := ParseSeedWithPassphrase(s, passphrase)
		if err != nil {
			if !errors.Is(err, ErrInvalidSeed) {
				t.Fatalf("error %q is not ErrInvalidSeed", err)
			}
			msg := strings.ToLower(err.Error())
			for _, w := range strings.Fields(strings.ToLower(s)) {
				_, word := bip39.GetWordIndex(w)
				if (word && len(w) >= 6 || isHexToken(w) && len(w) >= 8) && strings.Contains(msg, w) {
					t.Fatalf("error %q quotes input %q", err, w)
				}
			}
			return
		}
		if n := len(seed.bytes()); n < minSeedBytes || n > maxSeedBytes {
			t.Fatalf("seed of %d bytes", n)
		}
		if _, err := seed.Address(BTC, "mainnet", 0, 0); err != nil {
			t.Fatalf("parsed seed does not derive: %v", err)
		}
	})
}

// FuzzParseExtendedPublicKey: any text is a watch-only key or an
// ErrInvalidExtendedKey, never a panic; a key accepted gives addresses and
// prints as it was given.
func FuzzParseExtendedPublicKey(f *testing.F) {
	for _, s := range []string{bip84AccountZpub, bip84AccountZprv, ltcAccountZpub, ltcTestAccountVpub, ltcBip44Ltub,
		ltcBip49Mtub, slip132Bip44Xpub, "", "xpub", bip84Keys[0].addr} {
		f.Add(s, "btc", "mainnet")
		f.Add(s, "ltc", "testnet4")
	}
	for _, v := range bip32Invalid {
		f.Add(v.key, "btc", "mainnet")
	}
	f.Fuzz(func(t *testing.T, s, chain, network string) {
		x, err := ParseExtendedPublicKey(s, chain, network)
		if err != nil {
			if !errors.Is(err, ErrInvalidExtendedKey) {
				t.Fatalf("error %q is not ErrInvalidExtendedKey", err)
			}
			return
		}
		if x.String() != strings.TrimSpace(s) {
			t.Fatalf("String() = %q, input %q", x, s)
		}
		if _, err := x.Address(0); err != nil {
			t.Fatalf("accepted key gives no address: %v", err)
		}
	})
}
