package keys

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/sluicepay/sluice/indexer/bitcoin"
)

// TestBIP32Vectors derives every chain of BIP32 vectors 1 to 3 from the hex
// seed, and checks both serializations.
func TestBIP32Vectors(t *testing.T) {
	xpubID := chaincfg.MainNetParams.HDPublicKeyID
	for _, v := range bip32Vectors {
		seed, err := ParseSeed(v.seed)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		for _, c := range v.chains {
			k, err := seed.derive(parsePath(t, c.chain))
			if err != nil {
				t.Fatalf("%s %s: %v", v.name, c.chain, err)
			}
			if got := k.String(); got != c.prv {
				t.Errorf("%s %s: prv\n got %s\nwant %s", v.name, c.chain, got, c.prv)
			}
			pub, err := neuter(k, xpubID)
			if err != nil {
				t.Fatal(err)
			}
			if got := pub.String(); got != c.pub {
				t.Errorf("%s %s: pub\n got %s\nwant %s", v.name, c.chain, got, c.pub)
			}
		}
	}
}

// TestBIP32PublicDerivation checks the step watch-only addresses rest on:
// a non-hardened child derived from the parent's xpub is the child's xpub.
func TestBIP32PublicDerivation(t *testing.T) {
	for _, v := range bip32Vectors {
		for i := 1; i < len(v.chains); i++ {
			path := parsePath(t, v.chains[i].chain)
			last := path[len(path)-1]
			if last >= hardened {
				continue
			}
			parent, err := decodeExtendedKey(v.chains[i-1].pub)
			if err != nil {
				t.Fatal(err)
			}
			k := hdkeychain.NewExtendedKey(parent.version.pubID[:], parent.key[:], parent.chainCode[:],
				parent.parentFP[:], parent.depth, parent.child, false)
			child, err := k.Derive(last)
			if err != nil {
				t.Fatal(err)
			}
			if got := child.String(); got != v.chains[i].pub {
				t.Errorf("%s %s from parent xpub:\n got %s\nwant %s", v.name, v.chains[i].chain, got, v.chains[i].pub)
			}
		}
	}
}

// TestBIP84Vector checks BIP84's root, account and three keys, and that the
// API gives the account zpub of SLIP-132 and the two receive addresses.
func TestBIP84Vector(t *testing.T) {
	seed := mustSeed(t, abandon, "")
	zprv := [4]byte{0x04, 0xb2, 0x43, 0x0c}
	for _, c := range []struct{ path, want string }{{"m", bip84RootZprv}, {"m/84'/0'/0'", bip84AccountZprv}} {
		k, err := seed.derive(parsePath(t, c.path))
		if err != nil {
			t.Fatal(err)
		}
		z, err := k.CloneWithVersion(zprv[:])
		if err != nil {
			t.Fatal(err)
		}
		if got := z.String(); got != c.want {
			t.Errorf("%s = %s, want %s", c.path, got, c.want)
		}
	}
	x, err := seed.AccountXPub(Scheme{Family: Bitcoin, Chain: "btc", Network: "mainnet"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if x.String() != bip84AccountZpub {
		t.Errorf("account zpub = %s, want %s", x, bip84AccountZpub)
	}
	for _, v := range bip84Keys {
		k, err := seed.derive(parsePath(t, v.path))
		if err != nil {
			t.Fatal(err)
		}
		priv, _ := k.ECPrivKey()
		wif, err := btcutil.NewWIF(priv, &chaincfg.MainNetParams, true)
		if err != nil {
			t.Fatal(err)
		}
		if wif.String() != v.wif {
			t.Errorf("%s: wif %s, want %s", v.path, wif, v.wif)
		}
		if pub := hex.EncodeToString(priv.PubKey().SerializeCompressed()); pub != v.pub {
			t.Errorf("%s: pubkey %s, want %s", v.path, pub, v.pub)
		}
		p := parsePath(t, v.path)
		if p[3] != 0 {
			continue // the change key: deposits use receive addresses only
		}
		addr, err := seed.Address(BTC, "mainnet", 0, p[4])
		if err != nil || addr != v.addr {
			t.Errorf("Address(BTC, mainnet, 0, %d) = %s, %v; want %s", p[4], addr, err, v.addr)
		}
		key, err := seed.PrivateKey(BTC, "mainnet", 0, p[4])
		if err != nil {
			t.Fatal(err)
		}
		if w, _ := btcutil.NewWIF(key.BTCEC(), &chaincfg.MainNetParams, true); w.String() != v.wif {
			t.Errorf("PrivateKey(BTC, mainnet, 0, %d) = %s, want %s", p[4], w, v.wif)
		}
	}
}

func TestLitecoinBIP84(t *testing.T) {
	seed := mustSeed(t, abandon, "")
	k, err := seed.derive(parsePath(t, "m/84'/2'/0'"))
	if err != nil {
		t.Fatal(err)
	}
	z, _ := k.CloneWithVersion([]byte{0x04, 0xb2, 0x43, 0x0c})
	if z.String() != ltcAccountZprv {
		t.Errorf("m/84'/2'/0' = %s, want %s", z, ltcAccountZprv)
	}
	x, err := seed.AccountXPub(Scheme{Family: Bitcoin, Chain: "ltc", Network: "mainnet"}, 0)
	if err != nil || x.String() != ltcAccountZpub {
		t.Errorf("AccountXPub(LTC, mainnet, 0) = %v, %v; want %s", x, err, ltcAccountZpub)
	}
	x, err = seed.AccountXPub(Scheme{Family: Bitcoin, Chain: "ltc", Network: "testnet4"}, 0)
	if err != nil || x.String() != ltcTestAccountVpub {
		t.Errorf("AccountXPub(LTC, testnet4, 0) = %v, %v; want %s", x, err, ltcTestAccountVpub)
	}
	for _, v := range ltcKeys {
		p := parsePath(t, v.path)
		k, err := seed.derive(p)
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := k.ECPubKey()
		params, _ := bitcoin.ParamsFor("ltc", "mainnet")
		if a, _ := p2wpkhAddress(pub, params); a != v.addr {
			t.Errorf("%s = %s, want %s", v.path, a, v.addr)
		}
		if p[3] != 0 {
			continue
		}
		if a, err := seed.Address(LTC, "mainnet", 0, p[4]); err != nil || a != v.addr {
			t.Errorf("Address(LTC, mainnet, 0, %d) = %s, %v; want %s", p[4], a, err, v.addr)
		}
		// A second, independent road: the published account zpub, read by
		// the watch-only parser.
		w, err := ParseExtendedPublicKey(ltcAccountZpub, "ltc", "mainnet")
		if err != nil {
			t.Fatal(err)
		}
		if a, err := w.Address(p[4]); err != nil || a != v.addr {
			t.Errorf("zpub Address(%d) = %s, %v; want %s", p[4], a, err, v.addr)
		}
	}
}

func TestEthereumBIP44(t *testing.T) {
	seed := mustSeed(t, abandon, "")
	for _, v := range ethKeys {
		p := parsePath(t, v.path)
		account, branch, index := p[2]-hardened, p[3], p[4]
		cur := ETH
		if branch == 1 {
			cur = USDT
		}
		got, err := seed.Address(cur, "mainnet", account, index)
		if err != nil || got != v.addr {
			t.Errorf("Address(%s, mainnet, %d, %d) = %s, %v; want %s (%s)", cur, account, index, got, err, v.addr, v.path)
		}
		if path, _ := derivationPath(cur, "mainnet", account, index); path != v.path {
			t.Errorf("derivationPath(%s, mainnet, %d, %d) = %s, want %s", cur, account, index, path, v.path)
		}
		// go-ethereum's own road from the private key to the address.
		key, err := seed.PrivateKey(cur, "mainnet", account, index)
		if err != nil {
			t.Fatal(err)
		}
		if a := crypto.PubkeyToAddress(key.BTCEC().ToECDSA().PublicKey).Hex(); a != v.addr {
			t.Errorf("%s: go-ethereum address of PrivateKey = %s, want %s", v.path, a, v.addr)
		}
	}
	key, _ := seed.PrivateKey(ETH, "mainnet", 0, 0)
	if h := hex.EncodeToString(key.BTCEC().Serialize()); h != ethKey0 {
		t.Errorf("m/44'/60'/0'/0/0 private key = %s, want %s", h, ethKey0)
	}

	trust := mustSeed(t, trustMnemonic, "TREZOR")
	if a, err := trust.Address(ETH, "mainnet", 0, 0); err != nil || a != trustETHAddr {
		t.Errorf("Trust Wallet vector: %s, %v; want %s", a, err, trustETHAddr)
	}
	// Ethereum keys do not depend on the network.
	for _, n := range ethNetworks() {
		if a, _ := seed.Address(ETH, n, 0, 0); a != ethKeys[0].addr {
			t.Errorf("ETH on %s = %s, want %s", n, a, ethKeys[0].addr)
		}
	}
}

// TestUSDTIsItsOwnAddress: the same (account, index) gives different ETH
// and USDT addresses, so their sweeps never share an address.
func TestUSDTIsItsOwnAddress(t *testing.T) {
	seed := mustSeed(t, abandon, "")
	for _, idx := range []uint32{0, 1, 7, 1 << 20} {
		e, err1 := seed.Address(ETH, "mainnet", 3, idx)
		u, err2 := seed.Address(USDT, "mainnet", 3, idx)
		if err1 != nil || err2 != nil || e == u {
			t.Errorf("index %d: ETH %s (%v), USDT %s (%v)", idx, e, err1, u, err2)
		}
	}
}

func TestDerivationPaths(t *testing.T) {
	cases := []struct {
		cur              Currency
		network          string
		account, index   uint32
		want, wantPrefix string
	}{
		{BTC, "mainnet", 3, 7, "m/84'/0'/3'/0/7", "bc1q"},
		{BTC, "testnet", 0, 0, "m/84'/1'/0'/0/0", "tb1q"},
		{BTC, "testnet3", 0, 0, "m/84'/1'/0'/0/0", "tb1q"},
		{BTC, "regtest", 1, 2, "m/84'/1'/1'/0/2", "bcrt1q"},
		{BTC, "signet", 0, 5, "m/84'/1'/0'/0/5", "tb1q"},
		{BTC, " MAINNET ", 0, 0, "m/84'/0'/0'/0/0", "bc1q"},
		{LTC, "mainnet", 0, 0, "m/84'/2'/0'/0/0", "ltc1q"},
		{LTC, "testnet4", 2, 9, "m/84'/1'/2'/0/9", "tltc1q"},
		{LTC, "testnet", 0, 0, "m/84'/1'/0'/0/0", "tltc1q"},
		{LTC, "regtest", 0, 0, "m/84'/1'/0'/0/0", "rltc1q"},
		{ETH, "mainnet", 0, 0, "m/44'/60'/0'/0/0", "0x"},
		{ETH, "dev", 4, 1, "m/44'/60'/4'/0/1", "0x"},
		{ETH, "sepolia", 0, 0, "m/44'/60'/0'/0/0", "0x"},
		{USDT, "mainnet", 4, 1, "m/44'/60'/4'/1/1", "0x"},
		{USDT, "holesky", 0, 0, "m/44'/60'/0'/1/0", "0x"},
		{BTC, "mainnet", hardened - 1, hardened - 1, "m/84'/0'/2147483647'/0/2147483647", "bc1q"},
	}
	seed := mustSeed(t, abandon, "")
	for _, c := range cases {
		got, err := derivationPath(c.cur, c.network, c.account, c.index)
		if err != nil || got != c.want {
			t.Errorf("derivationPath(%s, %q, %d, %d) = %s, %v; want %s", c.cur, c.network, c.account, c.index, got, err, c.want)
		}
		addr, err := seed.Address(c.cur, c.network, c.account, c.index)
		if err != nil || !strings.HasPrefix(addr, c.wantPrefix) {
			t.Errorf("Address(%s, %q, %d, %d) = %s, %v; want prefix %s", c.cur, c.network, c.account, c.index, addr, err, c.wantPrefix)
		}
		// The path DerivationPath names is the key Address uses.
		k, err := seed.derive(parsePath(t, c.want))
		if err != nil {
			t.Fatal(err)
		}
		key, err := seed.PrivateKey(c.cur, c.network, c.account, c.index)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := k.ECPrivKey()
		if !want.Key.Equals(&key.BTCEC().Key) {
			t.Errorf("%s: PrivateKey is not the key at %s", c.cur, c.want)
		}
	}
	if a, _ := seed.Address(BTC, "testnet", 0, 0); a != btcTestnetAddr0 {
		t.Errorf("BTC testnet m/84'/1'/0'/0/0 = %s, want %s", a, btcTestnetAddr0)
	}
	// Regtest and signet share testnet's coin type: the same witness program
	// under another HRP.
	for _, n := range []string{"regtest", "signet"} {
		a, _ := seed.Address(BTC, n, 0, 0)
		hrp, data, err := bech32.Decode(a)
		_, want, _ := bech32.Decode(btcTestnetAddr0)
		if err != nil || !bytes.Equal(data, want) {
			t.Errorf("BTC %s m/84'/1'/0'/0/0 = %s (hrp %s, %v); want the program of %s", n, a, hrp, err, btcTestnetAddr0)
		}
	}
}

func TestDerivationErrors(t *testing.T) {
	seed := mustSeed(t, abandon, "")
	cases := []struct {
		name           string
		cur            Currency
		network        string
		account, index uint32
		want           []string
	}{
		{"account 2^31", BTC, "mainnet", hardened, 0, []string{"account 2147483648 is out of range", "below 2^31"}},
		{"index 2^31", ETH, "mainnet", 0, hardened, []string{"index 2147483648 is out of range"}},
		{"max uint32", LTC, "mainnet", 0, ^uint32(0), []string{"index 4294967295 is out of range"}},
		{"unknown currency", "DOGE", "mainnet", 0, 0, []string{`unknown currency "DOGE"`, "BTC, LTC, ETH, USDT"}},
		{"lowercase currency", "btc", "mainnet", 0, 0, []string{`unknown currency "btc"`}},
		{"btc testnet4", BTC, "testnet4", 0, 0, []string{`unknown btc network "testnet4"`, "mainnet, testnet, regtest, signet"}},
		{"ltc signet", LTC, "signet", 0, 0, []string{`unknown ltc network "signet"`}},
		{"eth goerli", ETH, "goerli", 0, 0, []string{`unknown ethereum network "goerli"`, "mainnet, sepolia, holesky, dev"}},
		{"usdt regtest", USDT, "regtest", 0, 0, []string{`unknown ethereum network "regtest"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := derivationPath(c.cur, c.network, c.account, c.index)
			errContains(t, err, c.want...)
			_, err = seed.Address(c.cur, c.network, c.account, c.index)
			errContains(t, err, c.want...)
			if !errors.Is(err, ErrInvalidPath) {
				t.Errorf("%v is not ErrInvalidPath", err)
			}
			_, err = seed.PrivateKey(c.cur, c.network, c.account, c.index)
			errContains(t, err, c.want...)
		})
	}
	_, err := seed.AccountXPub(Scheme{Family: Bitcoin, Chain: "btc", Network: "mainnet"}, hardened)
	errContains(t, err, "account 2147483648 is out of range")
	_, err = seed.AccountXPub(Scheme{Family: EVM, Chain: "eth", Network: "mainnet"}, 0)
	errContains(t, err, "watch-only account keys are for Bitcoin-family chains")
}

// TestDeriveConcurrently runs derivations from one Seed in parallel; with
// -race it proves no key object is shared between calls.
func TestDeriveConcurrently(t *testing.T) {
	seed := mustSeed(t, abandon, "")
	x, err := seed.AccountXPub(Scheme{Family: Bitcoin, Chain: "btc", Network: "mainnet"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint32(0); i < 2; i++ {
				a, err := seed.Address(BTC, "mainnet", 0, i)
				w, err2 := x.Address(i)
				if err != nil || err2 != nil || a != w || a != bip84Keys[i].addr {
					t.Errorf("goroutine: %s (%v) / %s (%v), want %s", a, err, w, err2, bip84Keys[i].addr)
				}
			}
		}()
	}
	wg.Wait()
}
