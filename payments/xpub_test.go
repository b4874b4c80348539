package payments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/sluicepay/sluice/payments/keys"
)

// The account key m/84'/0'/0' of the "abandon ... about" mnemonic, as
// BIP84's test vectors publish it, and its first two receive addresses;
// and the Litecoin m/84'/2'/0' account of the same mnemonic (see
// payments/keys/vectors_test.go for the sources).
const (
	bip84Zpub  = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
	bip84Addr0 = "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
	bip84Addr1 = "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"
	ltcZpub    = "zpub6rPo5mF47z5coVm5rvWv7fv181awb7Vckn5Cf3xQXBVKu18kuBHDhNi1Jrb4br6vVD3ZbrnXemEsWJoR18mZwkUdzwD8TQnHDUCGxqZ6swA"
	ltcAddr0   = "ltc1qjmxnz78nmc8nq77wuxh25n2es7rzm5c2rkk4wh"
	// a BIP49 (P2WPKH-in-P2SH) account key of the same mnemonic (SLIP-0132)
	bip49Ypub = "ypub6Ww3ibxVfGzLrAH1PNcjyAWenMTbbAosGNB6VvmSEgytSER9azLDWCxoJwW7Ke7icmizBMXrzBx9979FfaHxHcrArf3zbeJJJUZPf663zsP"
)

var mainnets = map[string]string{"BTC": "mainnet", "LTC": "mainnet", "ETH": "mainnet", "USDT": "mainnet"}

// TestWatchOnlyWallets: a merchant's zpub gives watch-only wallets at the
// key's own addresses, with no master seed configured at all.
func TestWatchOnlyWallets(t *testing.T) {
	l, _ := newLedger(t)
	l.Keys, l.Networks = nil, mainnets
	ctx := context.Background()
	var watched []Wallet
	l.Watch = func(_ context.Context, w Wallet) error { watched = append(watched, w); return nil }
	m, err := l.CreateMerchant(ctx, "own wallet shop")
	if err != nil {
		t.Fatal(err)
	}
	// without a seed and without a key, a wallet names the setting it lacks
	if _, _, err := l.WalletFor(ctx, m.ID, "BTC", "c1"); !errors.Is(err, ErrNoSeed) || !strings.Contains(err.Error(), "payments.seed_file") {
		t.Fatalf("no seed, no xpub: %v", err)
	}
	if err := l.SetXPub(ctx, m.ID, "BTC", " "+bip84Zpub+"\n"); err != nil {
		t.Fatal(err)
	}
	w, created, err := l.WalletFor(ctx, m.ID, "BTC", "c1")
	if err != nil || !created {
		t.Fatalf("%+v %v %v", w, created, err)
	}
	if w.Address != bip84Addr0 || w.Index != 0 || !w.WatchOnly || w.Chain != "btc" {
		t.Fatalf("first watch-only wallet %+v, want %s at index 0", w, bip84Addr0)
	}
	again, created, err := l.WalletFor(ctx, m.ID, "BTC", "c1")
	if err != nil || created || again != w {
		t.Fatalf("same extId: %+v %v %v", again, created, err)
	}
	w2, _, err := l.WalletFor(ctx, m.ID, "BTC", "c2")
	if err != nil || w2.Address != bip84Addr1 || !w2.WatchOnly {
		t.Fatalf("second customer %+v %v", w2, err)
	}
	if len(watched) != 2 || watched[0].Address != bip84Addr0 {
		t.Fatalf("watch set told of %+v", watched)
	}
	var flag bool
	if err := l.DB.QueryRow(ctx, "SELECT watch_only FROM wallets WHERE id = $1", w.ID).Scan(&flag); err != nil || !flag {
		t.Fatalf("wallets.watch_only = %v, %v", flag, err)
	}

	// the same key again, also in its plain xpub encoding, is no change
	for _, k := range []string{bip84Zpub, reencode(t, bip84Zpub, 0x0488b21e)} {
		if err := l.SetXPub(ctx, m.ID, "BTC", k); err != nil {
			t.Fatalf("same key again (%.4s): %v", k, err)
		}
	}
	// another key once wallets were derived: refused, and nothing changes
	err = l.SetXPub(ctx, m.ID, "BTC", ltcZpub)
	if !errors.Is(err, ErrXPubInUse) || !strings.Contains(err.Error(), "cannot change") {
		t.Fatalf("changing a used key: %v", err)
	}
	if w3, _, err := l.WalletFor(ctx, m.ID, "BTC", "c3"); err != nil || w3.Index != 2 || !w3.WatchOnly {
		t.Fatalf("after the refused change: %+v %v", w3, err)
	}

	// ETH has no watch-only keys, and no seed here
	if _, _, err := l.WalletFor(ctx, m.ID, "ETH", "c1"); !errors.Is(err, ErrNoSeed) {
		t.Fatalf("ETH without a seed: %v", err)
	}

	// LTC: its own key; changing it before any wallet is allowed
	if err := l.SetXPub(ctx, m.ID, "LTC", bip84Zpub); err != nil {
		t.Fatal(err)
	}
	if err := l.SetXPub(ctx, m.ID, "LTC", ltcZpub); err != nil {
		t.Fatalf("changing an unused key: %v", err)
	}
	lw, _, err := l.WalletFor(ctx, m.ID, "LTC", "c1")
	if err != nil || lw.Address != ltcAddr0 || !lw.WatchOnly || lw.Chain != "ltc" {
		t.Fatalf("LTC watch-only wallet %+v %v", lw, err)
	}

	for _, c := range []struct {
		name, currency, xpub string
		merchant             int64
		want                 []string
		is                   error
	}{
		{"ETH", "ETH", bip84Zpub, m.ID, []string{"BTC and LTC only"}, ErrWatchOnlyCurrency},
		{"USDT", "USDT", bip84Zpub, m.ID, []string{"BTC and LTC only"}, ErrWatchOnlyCurrency},
		{"unknown currency", "DOGE", bip84Zpub, m.ID, []string{"unknown currency"}, ErrUnknownCurrency},
		{"garbage", "BTC", "zpub-not-a-key", m.ID, []string{"BTC watch-only key", "invalid extended key"}, nil},
		{"typo", "BTC", bip84Zpub[:50] + "X" + bip84Zpub[51:], m.ID, []string{"checksum does not match"}, nil},
		{"BIP49 key", "BTC", bip49Ypub, m.ID, []string{"BIP49", "native segwit"}, nil},
		{"unknown merchant", "BTC", bip84Zpub, 99999, []string{"merchant 99999 does not exist"}, nil},
	} {
		err := l.SetXPub(ctx, c.merchant, c.currency, c.xpub)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", c.name, err, w)
			}
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%s: %v is not %v", c.name, err, c.is)
		}
	}

	// a mainnet key on a regtest sluice: refused, naming what it takes
	reg := *l
	reg.Networks = map[string]string{"BTC": "regtest"}
	m2, err := l.CreateMerchant(ctx, "regtest shop")
	if err != nil {
		t.Fatal(err)
	}
	err = reg.SetXPub(ctx, m2.ID, "BTC", bip84Zpub)
	if err == nil || !strings.Contains(err.Error(), "zpub is a Bitcoin or Litecoin mainnet key") || !strings.Contains(err.Error(), "btc regtest takes") {
		t.Fatalf("wrong network: %v", err)
	}
	if err := l.SetXPub(ctx, m2.ID, "BTC", bip84Zpub); !errors.Is(err, ErrXPubTaken) {
		t.Fatalf("another merchant's key: %v", err)
	}
	if err := reg.SetXPub(ctx, m2.ID, "LTC", ltcZpub); err == nil || !strings.Contains(err.Error(), "LTC is not configured") {
		t.Fatalf("unconfigured chain: %v", err)
	}
}

// TestWatchOnlyAfterCustodial: a merchant that had custodial wallets and
// registers a key keeps those addresses; the key's wallets start at its
// index 0, where the merchant's wallet app looks.
func TestWatchOnlyAfterCustodial(t *testing.T) {
	l, _ := newLedger(t)
	l.Networks = mainnets
	ctx := context.Background()
	// merchant account 0 of the abandon seed would have the zpub's addresses;
	// take account 1 for the custodial wallets
	if _, err := l.CreateMerchant(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	m, err := l.CreateMerchant(ctx, "switches to its own wallet")
	if err != nil {
		t.Fatal(err)
	}
	var custodial []Wallet
	for _, ext := range []string{"a", "b", "c"} {
		w, _, err := l.WalletFor(ctx, m.ID, "BTC", ext)
		if err != nil || w.WatchOnly {
			t.Fatalf("custodial wallet %+v %v", w, err)
		}
		custodial = append(custodial, w)
	}
	if err := l.SetXPub(ctx, m.ID, "BTC", bip84Zpub); err != nil {
		t.Fatal(err)
	}
	for _, old := range custodial {
		if w, created, err := l.WalletFor(ctx, m.ID, "BTC", old.ExtID); err != nil || created || w != old {
			t.Fatalf("custodial wallet changed: %+v, was %+v (%v)", w, old, err)
		}
	}
	w, _, err := l.WalletFor(ctx, m.ID, "BTC", "d")
	if err != nil || !w.WatchOnly || w.Index != 0 || w.Address != bip84Addr0 {
		t.Fatalf("first watch-only wallet after custodial ones: %+v %v", w, err)
	}
	// ETH stays custodial
	if e, _, err := l.WalletFor(ctx, m.ID, "ETH", "d"); err != nil || e.WatchOnly {
		t.Fatalf("ETH wallet %+v %v", e, err)
	}
}

// reencode gives an extended key with other version bytes.
func reencode(t *testing.T, key string, version uint32) string {
	t.Helper()
	raw := base58.Decode(key)
	if len(raw) != 82 {
		t.Fatalf("not an extended key: %.8s", key)
	}
	payload := append([]byte{byte(version >> 24), byte(version >> 16), byte(version >> 8), byte(version)}, raw[4:78]...)
	return base58.Encode(append(payload, chainhash.DoubleHashB(payload)[:4]...))
}

// TestSetXPubRacesWalletFor: keys registered while wallets are being made
// never leave a wallet whose address is not the registered key's.
func TestSetXPubRacesWalletFor(t *testing.T) {
	l, _ := newLedger(t)
	l.Keys, l.Networks = nil, mainnets
	ctx := context.Background()
	m, err := l.CreateMerchant(ctx, "racy shop")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetXPub(ctx, m.ID, "BTC", bip84Zpub); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, _, err := l.WalletFor(ctx, m.ID, "BTC", fmt.Sprintf("c%d", i%10)); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			k := bip84Zpub
			if i%2 == 1 {
				k = ltcZpub // a valid zpub for Bitcoin too: nothing in a key names its coin
			}
			if err := l.SetXPub(ctx, m.ID, "BTC", k); err != nil && !errors.Is(err, ErrXPubInUse) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var stored string
	if err := l.DB.QueryRow(ctx, "SELECT xpub FROM merchant_xpubs WHERE merchant_id = $1 AND currency = 'BTC'", m.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	x, err := keys.ParseExtendedPublicKey(stored, "btc", "mainnet")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := l.DB.Query(ctx, "SELECT address, derivation_index, watch_only FROM wallets WHERE merchant_id = $1 ORDER BY derivation_index", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var addr string
		var index uint32
		var watchOnly bool
		if err := rows.Scan(&addr, &index, &watchOnly); err != nil {
			t.Fatal(err)
		}
		if want, _ := x.Address(index); addr != want || !watchOnly || index != uint32(n) {
			t.Errorf("wallet %d: %s (watch-only %t), want %s of the registered key at index %d", index, addr, watchOnly, want, n)
		}
		n++
	}
	if err := rows.Err(); err != nil || n != 10 {
		t.Fatalf("%d wallets, %v", n, err)
	}
}
