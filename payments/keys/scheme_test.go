package keys

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/sluicepay/sluice/indexer/bitcoin"
)

// derivationPath is the path Address(cur, network, account, index) derives.
func derivationPath(cur Currency, network string, account, index uint32) (string, error) {
	d, err := schemeFor(cur, network)
	if err != nil {
		return "", err
	}
	if err := checkLevels(account, index); err != nil {
		return "", fmt.Errorf("%s: %w", d.label(account, index), err)
	}
	return formatPath(d.path(account, index)), nil
}

// goldenAddresses were printed by Address and DerivationPath before keys
// took a Scheme (commit 51d075e): the deposit addresses merchants hold must
// never change.
var goldenAddresses = []struct {
	cur            Currency
	network        string
	account, index uint32
	path, addr     string
}{
	{BTC, "mainnet", 0, 0, "m/84'/0'/0'/0/0", "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"},
	{BTC, "mainnet", 0, 5, "m/84'/0'/0'/0/5", "bc1qnpzzqjzet8gd5gl8l6gzhuc4s9xv0djt0rlu7a"},
	{BTC, "mainnet", 1, 0, "m/84'/0'/1'/0/0", "bc1qku0qh0mc00y8tk0n65x2tqw4trlspak0fnjmfz"},
	{BTC, "mainnet", 1, 5, "m/84'/0'/1'/0/5", "bc1q2lw3ne8d4r57pdr8x89lf7k4vv73qe98vk4evf"},
	{BTC, "regtest", 0, 0, "m/84'/1'/0'/0/0", "bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk"},
	{BTC, "regtest", 0, 5, "m/84'/1'/0'/0/5", "bcrt1qr7scvm07ta0ldzlrmk7rnmc9lk356yarcts3za"},
	{BTC, "regtest", 1, 0, "m/84'/1'/1'/0/0", "bcrt1qp7shgcwx3mpzgxjvff0d77vuhchcldzfxnktde"},
	{BTC, "regtest", 1, 5, "m/84'/1'/1'/0/5", "bcrt1qjmd8cyk73dvfm8aylz9eppl37ywlc6cmy7jprn"},
	{LTC, "mainnet", 0, 0, "m/84'/2'/0'/0/0", "ltc1qjmxnz78nmc8nq77wuxh25n2es7rzm5c2rkk4wh"},
	{LTC, "mainnet", 0, 5, "m/84'/2'/0'/0/5", "ltc1qdjtr2jc5uu6r0ss2fcey3djvkhlu7jux420fhr"},
	{LTC, "mainnet", 1, 0, "m/84'/2'/1'/0/0", "ltc1q6he42udnkdx2m5dctfyjs2z9xl76xcdshd5htt"},
	{LTC, "mainnet", 1, 5, "m/84'/2'/1'/0/5", "ltc1q7unncak8yvjxs3g8zx7m9evp434lc6q6lje2qa"},
	{LTC, "regtest", 0, 0, "m/84'/1'/0'/0/0", "rltc1q6rz28mcfaxtmd6v789l9rrlrusdprr9puuzgkg"},
	{LTC, "regtest", 0, 5, "m/84'/1'/0'/0/5", "rltc1qr7scvm07ta0ldzlrmk7rnmc9lk356yarxx2c4r"},
	{LTC, "regtest", 1, 0, "m/84'/1'/1'/0/0", "rltc1qp7shgcwx3mpzgxjvff0d77vuhchcldzfc7vz68"},
	{LTC, "regtest", 1, 5, "m/84'/1'/1'/0/5", "rltc1qjmd8cyk73dvfm8aylz9eppl37ywlc6cm6ngg5d"},
	{ETH, "mainnet", 0, 0, "m/44'/60'/0'/0/0", "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"},
	{ETH, "mainnet", 0, 5, "m/44'/60'/0'/0/5", "0xA40cFBFc8534FFC84E20a7d8bBC3729B26a35F6f"},
	{ETH, "mainnet", 1, 0, "m/44'/60'/1'/0/0", "0x78839F6054d7ed13918bAe0473BA31b1Ca9D7265"},
	{ETH, "mainnet", 1, 5, "m/44'/60'/1'/0/5", "0x9A1986a04e8B46438D1b60b8B3fb06283e7E061A"},
	{ETH, "dev", 0, 0, "m/44'/60'/0'/0/0", "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"},
	{ETH, "dev", 0, 5, "m/44'/60'/0'/0/5", "0xA40cFBFc8534FFC84E20a7d8bBC3729B26a35F6f"},
	{ETH, "dev", 1, 0, "m/44'/60'/1'/0/0", "0x78839F6054d7ed13918bAe0473BA31b1Ca9D7265"},
	{ETH, "dev", 1, 5, "m/44'/60'/1'/0/5", "0x9A1986a04e8B46438D1b60b8B3fb06283e7E061A"},
	{USDT, "mainnet", 0, 0, "m/44'/60'/0'/1/0", "0x399Db6Ed32539fbDF44c3e7678b5b428e378F666"},
	{USDT, "mainnet", 0, 5, "m/44'/60'/0'/1/5", "0x950839F6d618069E4c473f7FfDc707893f57f234"},
	{USDT, "mainnet", 1, 0, "m/44'/60'/1'/1/0", "0xDb447a90f6D37e92801a3d8E8AA30eebD04061D3"},
	{USDT, "mainnet", 1, 5, "m/44'/60'/1'/1/5", "0x78CA94e866b668d2d8DAD43391D452bFe5a38a33"},
	{USDT, "dev", 0, 0, "m/44'/60'/0'/1/0", "0x399Db6Ed32539fbDF44c3e7678b5b428e378F666"},
	{USDT, "dev", 0, 5, "m/44'/60'/0'/1/5", "0x950839F6d618069E4c473f7FfDc707893f57f234"},
	{USDT, "dev", 1, 0, "m/44'/60'/1'/1/0", "0xDb447a90f6D37e92801a3d8E8AA30eebD04061D3"},
	{USDT, "dev", 1, 5, "m/44'/60'/1'/1/5", "0x78CA94e866b668d2d8DAD43391D452bFe5a38a33"},
}

// schemeOf is the Scheme the chain registry gives cur (its chain's family
// and key, Currency.KeyBranch).
func schemeOf(t *testing.T, cur Currency, network string) Scheme {
	switch cur {
	case BTC, LTC:
		return Scheme{Family: Bitcoin, Chain: strings.ToLower(string(cur)), Network: network}
	case ETH:
		return Scheme{Family: EVM, Chain: "eth", Network: network}
	case USDT:
		return Scheme{Family: EVM, Chain: "eth", Network: network, Branch: 1}
	}
	t.Fatalf("no scheme for %s", cur)
	return Scheme{}
}

// TestGoldenAddresses: both roads, Address(currency) and AddressFor(Scheme),
// give the addresses and paths of before, and the signing key is the
// address's (go-ethereum's and btcutil's own roads from the key).
func TestGoldenAddresses(t *testing.T) {
	seed := mustSeed(t, abandon, "")
	for _, g := range goldenAddresses {
		name := fmt.Sprintf("%s %s %d/%d", g.cur, g.network, g.account, g.index)
		sc := schemeOf(t, g.cur, g.network)
		if a, err := seed.Address(g.cur, g.network, g.account, g.index); err != nil || a != g.addr {
			t.Errorf("%s: Address = %s, %v; want %s", name, a, err, g.addr)
		}
		if a, err := seed.AddressFor(sc, g.account, g.index); err != nil || a != g.addr {
			t.Errorf("%s: AddressFor(%+v) = %s, %v; want %s", name, sc, a, err, g.addr)
		}
		if p, err := derivationPath(g.cur, g.network, g.account, g.index); err != nil || p != g.path {
			t.Errorf("%s: path %s, %v; want %s", name, p, err, g.path)
		}
		if p, err := sc.Path(g.account, g.index); err != nil || p != g.path {
			t.Errorf("%s: Scheme.Path = %s, %v; want %s", name, p, err, g.path)
		}
		k1, err := seed.PrivateKey(g.cur, g.network, g.account, g.index)
		if err != nil {
			t.Fatal(err)
		}
		k2, err := seed.PrivateKeyFor(sc, g.account, g.index)
		if err != nil {
			t.Fatal(err)
		}
		if !k1.BTCEC().Key.Equals(&k2.BTCEC().Key) {
			t.Errorf("%s: PrivateKey and PrivateKeyFor differ", name)
		}
		if got := keyAddress(t, k2, sc); got != g.addr {
			t.Errorf("%s: the address of PrivateKeyFor is %s, want %s", name, got, g.addr)
		}
	}
}

// keyAddress is the address of k written by other code than keys'.
func keyAddress(t *testing.T, k *PrivateKey, sc Scheme) string {
	t.Helper()
	if sc.Family == EVM {
		return crypto.PubkeyToAddress(k.BTCEC().ToECDSA().PublicKey).Hex()
	}
	p, err := bitcoin.ParamsFor(sc.Chain, sc.Network)
	if err != nil {
		t.Fatal(err)
	}
	a, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(k.BTCEC().PubKey().SerializeCompressed()), p.ChainParams)
	if err != nil {
		t.Fatal(err)
	}
	return a.EncodeAddress()
}

// TestUSDCKeys: USDC (Ethereum, key branch 2) derives m/44'/60'/account'/
// 2/index, apart from ETH's and USDT's addresses.
func TestUSDCKeys(t *testing.T) {
	seed := mustSeed(t, abandon, "")
	golden := []struct {
		account, index uint32
		path, addr     string
	}{
		{0, 0, "m/44'/60'/0'/2/0", "0xb630409fA04E6DCe13e7D83DAD3c365669146E3a"},
		{0, 5, "m/44'/60'/0'/2/5", "0xd68f44a7860C41717F09d11E423a9552A8530A04"},
		{1, 0, "m/44'/60'/1'/2/0", "0xcD8958ad23f22A86ad769632eCf6766CE89A9C0F"},
		{1, 5, "m/44'/60'/1'/2/5", "0xb3c89BCC72046c874281410D86278D03b1bEE243"},
	}
	for _, network := range []string{"mainnet", "dev"} {
		usdc := Scheme{Family: EVM, Chain: "eth", Network: network, Branch: 2}
		for _, g := range golden {
			if p, err := usdc.Path(g.account, g.index); err != nil || p != g.path {
				t.Errorf("USDC %s path %d/%d = %s, %v; want %s", network, g.account, g.index, p, err, g.path)
			}
			a, err := seed.AddressFor(usdc, g.account, g.index)
			if err != nil || a != g.addr {
				t.Errorf("USDC %s address %d/%d = %s, %v; want %s", network, g.account, g.index, a, err, g.addr)
			}
			k, err := seed.PrivateKeyFor(usdc, g.account, g.index)
			if err != nil {
				t.Fatal(err)
			}
			if got := keyAddress(t, k, usdc); got != g.addr {
				t.Errorf("USDC %s: the address of PrivateKeyFor %d/%d is %s, want %s", network, g.account, g.index, got, g.addr)
			}
			for _, other := range []Currency{ETH, USDT} {
				if o, _ := seed.Address(other, network, g.account, g.index); o == a {
					t.Errorf("USDC and %s share %s", other, a)
				}
			}
		}
	}
}

// TestEVMChainsShareKeys: EVM keys depend on neither the chain nor its
// network, as in wallets: a coin on another EVM chain at branch 0 has
// ETH's addresses, a token at branch 1 USDT's.
func TestEVMChainsShareKeys(t *testing.T) {
	seed := mustSeed(t, abandon, "")
	for _, g := range goldenAddresses {
		if g.cur != ETH && g.cur != USDT {
			continue
		}
		for _, chain := range []string{"polygon", "bsc", "arbitrum", "devnet2"} {
			for _, network := range []string{"mainnet", "dev", "amoy"} {
				sc := schemeOf(t, g.cur, network)
				sc.Chain = chain
				if a, err := seed.AddressFor(sc, g.account, g.index); err != nil || a != g.addr {
					t.Errorf("%+v %d/%d = %s, %v; want %s", sc, g.account, g.index, a, err, g.addr)
				}
			}
		}
	}
}

func TestSchemeErrors(t *testing.T) {
	seed := mustSeed(t, abandon, "")
	cases := []struct {
		name           string
		sc             Scheme
		account, index uint32
		want           []string
	}{
		{"no family", Scheme{Chain: "btc", Network: "mainnet"}, 0, 0, []string{`unknown chain family ""`, "bitcoin, evm"}},
		{"tron", Scheme{Family: "tron", Chain: "trx", Network: "mainnet"}, 0, 0, []string{`unknown chain family "tron"`}},
		{"bitcoin doge", Scheme{Family: Bitcoin, Chain: "doge", Network: "mainnet"}, 0, 0, []string{`unknown chain "doge"`}},
		{"bitcoin ltc signet", Scheme{Family: Bitcoin, Chain: "ltc", Network: "signet"}, 0, 0, []string{`unknown ltc network "signet"`}},
		{"bitcoin branch 1", Scheme{Family: Bitcoin, Chain: "btc", Network: "regtest", Branch: 1}, 0, 0,
			[]string{"btc regtest", "branch 1", "receive branch 0"}},
		{"evm upper-case chain", Scheme{Family: EVM, Chain: "ETH", Network: "dev"}, 0, 0, []string{`chain "ETH"`, "lower-case"}},
		{"evm no chain", Scheme{Family: EVM, Network: "dev"}, 0, 0, []string{`chain ""`}},
		{"evm no network", Scheme{Family: EVM, Chain: "polygon"}, 0, 0, []string{"polygon", "no network"}},
		{"evm branch 2^31", Scheme{Family: EVM, Chain: "eth", Network: "dev", Branch: hardened}, 0, 0,
			[]string{"branch 2147483648 is out of range"}},
		{"evm account 2^31", Scheme{Family: EVM, Chain: "eth", Network: "dev", Branch: 2}, hardened, 0,
			[]string{"eth dev branch 2 account 2147483648 index 0", "account 2147483648 is out of range"}},
		{"bitcoin index 2^31", Scheme{Family: Bitcoin, Chain: "ltc", Network: "regtest"}, 0, hardened,
			[]string{"ltc regtest account 0 index 2147483648", "index 2147483648 is out of range"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.sc.Path(c.account, c.index)
			errContains(t, err, c.want...)
			if !errors.Is(err, ErrInvalidPath) {
				t.Errorf("%v is not ErrInvalidPath", err)
			}
			_, err = seed.AddressFor(c.sc, c.account, c.index)
			errContains(t, err, c.want...)
			_, err = seed.PrivateKeyFor(c.sc, c.account, c.index)
			errContains(t, err, c.want...)
		})
	}
	var zero Seed
	if _, err := zero.AddressFor(schemeOf(t, ETH, "dev"), 0, 0); !errors.Is(err, ErrInvalidSeed) {
		t.Errorf("zero Seed: %v", err)
	}
}
