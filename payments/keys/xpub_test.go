package keys

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil"

	"github.com/sluicepay/sluice/indexer/bitcoin"
)

// TestBIP32InvalidKeys: every key of BIP32 test vector 5 is refused, for
// the reason the BIP gives, and never accepted as a watch-only key.
func TestBIP32InvalidKeys(t *testing.T) {
	reason := map[string]string{
		"pubkey version / prvkey mismatch":            "xpub version but the key data is a private key",
		"prvkey version / pubkey mismatch":            "xprv version but the key data is not a private key",
		"invalid pubkey prefix 04":                    "public key prefix 04 is not 02 or 03",
		"invalid prvkey prefix 04":                    "xprv version but the key data is not a private key",
		"invalid pubkey prefix 01":                    "public key prefix 01 is not 02 or 03",
		"invalid prvkey prefix 01":                    "xprv version but the key data is not a private key",
		"zero depth with non-zero parent fingerprint": "depth 0 (master) key with a parent fingerprint",
		"zero depth with non-zero index":              "depth 0 (master) key with a parent fingerprint or child number",
		"unknown extended key version":                "unknown version bytes",
		"private key 0 not in 1..n-1":                 "private key is not in 1..n-1",
		"private key n not in 1..n-1":                 "private key is not in 1..n-1",
		"invalid pubkey 020000000000000000000000000000000000000000000000000000000000000007": "not on secp256k1",
		"invalid checksum": "checksum does not match",
	}
	for _, v := range bip32Invalid {
		_, err := decodeExtendedKey(v.key)
		errContains(t, err, reason[v.why])
		if !errors.Is(err, ErrInvalidExtendedKey) {
			t.Errorf("%s: %v is not ErrInvalidExtendedKey", v.why, err)
		}
		for _, net := range []string{"mainnet", "testnet"} {
			if x, err := ParseExtendedPublicKey(v.key, "btc", net); err == nil {
				t.Errorf("%s: accepted as %s watch-only key %s", v.why, net, x)
			}
		}
	}
}

// TestVersionTable checks each SLIP-132 version against its prefix: a key
// serialized with the bytes starts with the name.
func TestVersionTable(t *testing.T) {
	seed := mustSeed(t, abandon, "")
	k, err := seed.derive(parsePath(t, "m/84'/0'/0'"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[4]byte]bool{}
	for _, v := range xkeyVersions() {
		for _, c := range []struct {
			name string
			id   [4]byte
			priv bool
		}{{v.pub, v.pubID, false}, {v.prv, v.prvID, true}} {
			if seen[c.id] {
				t.Errorf("%s: version %x listed twice", c.name, c.id)
			}
			seen[c.id] = true
			var s string
			if c.priv {
				kk, _ := k.CloneWithVersion(c.id[:])
				s = kk.String()
			} else {
				kk, err := neuter(k, c.id)
				if err != nil {
					t.Fatal(err)
				}
				s = kk.String()
			}
			if !strings.HasPrefix(s, c.name) {
				t.Errorf("version %x encodes as %s…, want prefix %s", c.id, s[:4], c.name)
			}
			d, err := decodeExtendedKey(s)
			if err != nil || d.private != c.priv || d.version.pub != v.pub {
				t.Errorf("%s: decoded as %+v, %v", c.name, d.version, err)
			}
		}
	}
	// The published Litecoin keys confirm the Ltub/Mtub bytes on real keys.
	for _, s := range []string{ltcBip44Ltub, ltcBip49Mtub, ltcBip44Ltpv} {
		d, err := decodeExtendedKey(s)
		if err != nil || (d.version.pub != s[:4] && d.version.prv != s[:4]) {
			t.Errorf("%s…: decoded as %+v, %v", s[:8], d.version, err)
		}
	}
}

func TestParseExtendedPublicKey(t *testing.T) {
	seed := mustSeed(t, abandon, "")
	xprvAccount := func(path, version string) string {
		k, err := seed.derive(parsePath(t, path))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range xkeyVersions() {
			if v.prv == version {
				kk, _ := k.CloneWithVersion(v.prvID[:])
				return kk.String()
			}
			if v.pub == version {
				kk, _ := neuter(k, v.pubID)
				return kk.String()
			}
		}
		t.Fatalf("no version %s", version)
		return ""
	}
	btcTestTpub := xprvAccount("m/84'/1'/0'", "tpub")
	ltcTestTtub := xprvAccount("m/84'/1'/0'", "ttub")
	ok := []struct {
		key, chain, network, addr0 string
	}{
		{bip84AccountZpub, "btc", "mainnet", bip84Keys[0].addr},
		{xprvAccount("m/84'/0'/0'", "xpub"), "btc", "mainnet", bip84Keys[0].addr},
		{"  " + bip84AccountZpub + "\n", "btc", "mainnet", bip84Keys[0].addr},
		{ltcTestAccountVpub, "btc", "testnet", btcTestnetAddr0},
		{btcTestTpub, "btc", "testnet", btcTestnetAddr0},
		{ltcTestAccountVpub, "btc", "regtest", ""},
		{ltcTestAccountVpub, "btc", "signet", btcTestnetAddr0},
		{ltcAccountZpub, "ltc", "mainnet", ltcKeys[0].addr},
		{xprvAccount("m/84'/2'/0'", "xpub"), "ltc", "mainnet", ltcKeys[0].addr},
		{xprvAccount("m/84'/2'/0'", "Ltub"), "ltc", "mainnet", ltcKeys[0].addr},
		{ltcTestAccountVpub, "ltc", "testnet4", ""},
		{btcTestTpub, "ltc", "testnet4", ""},
		{ltcTestTtub, "ltc", "testnet4", ""},
		{ltcTestTtub, "ltc", "regtest", ""},
		// A BIP44 account key is taken, as any xpub is: its P2WPKH
		// addresses are what the merchant's wallet must watch.
		{slip132Bip44Xpub, "btc", "mainnet", ""},
		{ltcBip44Ltub, "ltc", "mainnet", ""},
	}
	for _, c := range ok {
		x, err := ParseExtendedPublicKey(c.key, c.chain, c.network)
		if err != nil {
			t.Errorf("%s %s %s…: %v", c.chain, c.network, strings.TrimSpace(c.key)[:12], err)
			continue
		}
		if x.String() != strings.TrimSpace(c.key) || fmt.Sprint(x) != x.String() {
			t.Errorf("String() = %s, want %s", x, strings.TrimSpace(c.key))
		}
		a, err := x.Address(0)
		if err != nil {
			t.Errorf("%s: Address(0): %v", c.key[:12], err)
		}
		if c.addr0 != "" && a != c.addr0 {
			t.Errorf("%s %s %s…: Address(0) = %s, want %s", c.chain, c.network, c.key[:12], a, c.addr0)
		}
		p, _ := bitcoin.ParamsFor(c.chain, c.network)
		if !strings.HasPrefix(a, p.Bech32HRP+"1q") {
			t.Errorf("%s %s: %s lacks HRP %s", c.chain, c.network, a, p.Bech32HRP)
		}
	}
	if a, _ := mustXPub(t, bip84AccountZpub, "btc", "mainnet").Address(1); a != bip84Keys[1].addr {
		t.Errorf("zpub Address(1) = %s, want %s", a, bip84Keys[1].addr)
	}

	bad := []struct {
		name, key, chain, network string
		want                      []string
	}{
		{"zprv", bip84AccountZprv, "btc", "mainnet", []string{"extended private key (zprv)", "btc mainnet takes the account's extended public key (xpub, zpub)"}},
		{"xprv", xprvAccount("m/84'/0'/0'", "xprv"), "btc", "mainnet", []string{"extended private key (xprv)"}},
		{"vprv", xprvAccount("m/84'/1'/0'", "vprv"), "btc", "testnet", []string{"extended private key (vprv)", "(tpub, vpub)"}},
		{"Ltpv", ltcBip44Ltpv, "ltc", "mainnet", []string{"extended private key (Ltpv)", "(xpub, zpub, Ltub)"}},
		{"zpub on testnet", bip84AccountZpub, "btc", "testnet", []string{"zpub is a Bitcoin or Litecoin mainnet key", "btc testnet takes", "(tpub, vpub)"}},
		{"vpub on mainnet", ltcTestAccountVpub, "btc", "mainnet", []string{"vpub is a Bitcoin or Litecoin test-network key", "(xpub, zpub)"}},
		{"vpub on ltc mainnet", ltcTestAccountVpub, "ltc", "mainnet", []string{"test-network key", "(xpub, zpub, Ltub)"}},
		{"Ltub on btc", ltcBip44Ltub, "btc", "mainnet", []string{"Ltub is a Litecoin mainnet key", "btc mainnet takes"}},
		{"ttub on btc", ltcTestTtub, "btc", "regtest", []string{"ttub is a Litecoin test-network key", "btc regtest takes", "(tpub, vpub)"}},
		{"Ltub on ltc testnet", ltcBip44Ltub, "ltc", "testnet4", []string{"Ltub is a Litecoin mainnet key", "(tpub, vpub, ttub)"}},
		{"ypub", slip132Bip49Ypub, "btc", "mainnet", []string{"ypub is a P2WPKH-in-P2SH (BIP49) key", "native segwit (BIP84)"}},
		{"Mtub", ltcBip49Mtub, "ltc", "mainnet", []string{"Mtub is a P2WPKH-in-P2SH (BIP49) key"}},
		{"Zpub", xprvAccount("m/48'/0'/0'/2'", "Zpub"), "btc", "mainnet", []string{"Zpub is a multisig key"}},
		{"master", bip32Vectors[0].chains[0].pub, "btc", "mainnet", []string{"depth 0", "want the account key at depth 3, m/84'/0'/account'"}},
		{"depth 4", xprvAccount("m/84'/0'/0'/0", "zpub"), "btc", "mainnet", []string{"depth 4"}},
		{"not hardened", xprvAccount("m/84'/0'/0", "zpub"), "btc", "mainnet", []string{"depth 3 (child 0)"}},
		{"typo", typo(bip84AccountZpub, 50), "btc", "mainnet", []string{"checksum does not match"}},
		{"truncated", bip84AccountZpub[:100], "btc", "mainnet", []string{"not base58 of 78 bytes"}},
		{"empty", "", "btc", "mainnet", []string{"not base58"}},
		{"address", bip84Keys[0].addr, "btc", "mainnet", []string{"not base58"}},
		{"unknown chain", bip84AccountZpub, "doge", "mainnet", []string{`unknown chain "doge"`}},
		{"unknown network", bip84AccountZpub, "btc", "testnet4", []string{`unknown btc network "testnet4"`}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseExtendedPublicKey(c.key, c.chain, c.network)
			errContains(t, err, c.want...)
			if !errors.Is(err, ErrInvalidExtendedKey) {
				t.Errorf("%v is not ErrInvalidExtendedKey", err)
			}
			// A private key pasted by mistake is not echoed back.
			if len(c.key) > 20 && strings.Contains(err.Error(), c.key[8:]) {
				t.Errorf("error %q quotes the key", err)
			}
		})
	}
}

// typo changes the character at i to another base58 character.
func typo(s string, i int) string {
	c := byte('X')
	if s[i] == c {
		c = 'Y'
	}
	return s[:i] + string(c) + s[i+1:]
}

func mustXPub(t *testing.T, s, chain, network string) *XPub {
	t.Helper()
	x, err := ParseExtendedPublicKey(s, chain, network)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestXPubAddressErrors(t *testing.T) {
	x := mustXPub(t, bip84AccountZpub, "btc", "mainnet")
	_, err := x.Address(hardened)
	errContains(t, err, "btc mainnet watch-only index 2147483648", "out of range")
	var nilX *XPub
	_, err = nilX.Address(0)
	errContains(t, err, "no watch-only key")
}

// TestCustodialMatchesWatchOnly: on every BTC and LTC network, the address
// the seed gives for (account, index) is the one the account's xpub gives
// for index, and the one the indexer reads from the P2WPKH output script
// paying that key, so a deposit to it is matched.
func TestCustodialMatchesWatchOnly(t *testing.T) {
	seed := mustSeed(t, trustMnemonic, "TREZOR")
	for _, cur := range []Currency{BTC, LTC} {
		chain := strings.ToLower(string(cur))
		for _, network := range bitcoin.Networks(chain) {
			params, err := bitcoin.ParamsFor(chain, network)
			if err != nil {
				t.Fatal(err)
			}
			for _, account := range []uint32{0, 1, hardened - 1} {
				acct, err := seed.AccountXPub(Scheme{Family: Bitcoin, Chain: chain, Network: network}, account)
				if err != nil {
					t.Fatal(err)
				}
				x, err := ParseExtendedPublicKey(acct.String(), chain, network)
				if err != nil {
					t.Fatalf("%s %s account %d: %v", cur, network, account, err)
				}
				for _, index := range []uint32{0, 1, 2, 999, hardened - 1} {
					custodial, err := seed.Address(cur, network, account, index)
					if err != nil {
						t.Fatal(err)
					}
					watch, err := x.Address(index)
					if err != nil {
						t.Fatal(err)
					}
					key, err := seed.PrivateKey(cur, network, account, index)
					if err != nil {
						t.Fatal(err)
					}
					script := append([]byte{0x00, 0x14}, btcutil.Hash160(key.BTCEC().PubKey().SerializeCompressed())...)
					typ, indexed := bitcoin.ClassifyScript(script, params)
					if custodial != watch || indexed == nil || *indexed != custodial || typ != bitcoin.TypeP2WPKH {
						t.Errorf("%s %s account %d index %d: seed %s, xpub %s, indexer %s %v",
							cur, network, account, index, custodial, watch, typ, indexed)
					}
				}
			}
		}
	}
}
