package keys

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/sluicepay/sluice/indexer/bitcoin"
)

// Family is the kind of chain a Scheme derives keys for. The values are the
// chain registry's (chain.Bitcoin, chain.EVM), so a registry family converts
// as keys.Family(f).
type Family string

// The families.
const (
	Bitcoin Family = "bitcoin" // BIP84 native segwit: m/84'/coin'/account'/0/index
	EVM     Family = "evm"     // BIP44 with Ethereum's coin type: m/44'/60'/account'/branch/index
)

// Scheme says where one currency's deposit keys live and how their
// addresses are written: what the chain registry knows of a currency
// (its chain's family, key and network, its Currency.KeyBranch).
//
// Bitcoin family: Chain is btc or ltc and Network one of its networks; they
// choose the coin type and the address encoding (bech32 P2WPKH with the
// network's HRP). Branch must be 0, the receive branch, which watch-only
// account keys derive too.
//
// EVM: every chain uses Ethereum's coin type 60 and EIP-55 addresses, as
// wallets do on every EVM network, so Chain and Network only label errors
// and a key's address is the same on every EVM chain. Branch is BIP44's
// change level and tells the currencies of one chain apart: the registry
// gives each its own (ETH 0, USDT 1, USDC 2), so a merchant's deposit
// addresses for two currencies of a chain differ: on one address their
// sweeps would compete, the coin's sweep emptying the balance the token's
// sweep pays its gas from, and both drawing on the address's one nonce
// sequence.
type Scheme struct {
	Family  Family
	Chain   string // the chain's config key
	Network string
	Branch  uint32
}

// String names the scheme in messages, as "eth dev branch 2".
func (sc Scheme) String() string {
	s := sc.Chain + " " + sc.Network
	if sc.Branch != 0 {
		s += fmt.Sprintf(" branch %d", sc.Branch)
	}
	return s
}

const hardened = hdkeychain.HardenedKeyStart

// Purposes, and Ethereum's SLIP-44 coin type, which serves every EVM
// network: wallets use 60 on testnets and other EVM chains too.
const (
	purposeBIP44 = 44
	purposeBIP84 = 84
	coinETH      = 60
)

// chainKey is what a chain's config key looks like (the ledger's check).
var chainKey = regexp.MustCompile(`^[a-z][a-z0-9_]{1,31}$`)

// derivation is a checked Scheme: the path's levels above the account and
// the address encoding.
type derivation struct {
	name    string // prefixes messages: "BTC regtest", "eth dev branch 2"
	purpose uint32
	coin    uint32
	branch  uint32
	btc     *bitcoin.Params // nil for EVM
}

// resolve checks sc.
func (sc Scheme) resolve() (derivation, error) {
	switch sc.Family {
	case Bitcoin:
		p, err := bitcoin.ParamsFor(sc.Chain, sc.Network)
		if err != nil {
			return derivation{}, fmt.Errorf("%s: %w: %w", sc.Family, ErrInvalidPath, err)
		}
		if sc.Branch != 0 {
			return derivation{}, fmt.Errorf("%s %s: %w: branch %d: Bitcoin-family deposit keys are on the receive branch 0",
				p.Chain, p.Network, ErrInvalidPath, sc.Branch)
		}
		// BIP84 m/84'/coin'/...: coin 0 for BTC, 2 for LTC, 1 on every test
		// network; HDCoinType holds exactly that per network.
		return derivation{name: p.Chain + " " + p.Network, purpose: purposeBIP84, coin: p.ChainParams.HDCoinType, btc: p}, nil
	case EVM:
		sc.Chain = strings.TrimSpace(sc.Chain)
		sc.Network = strings.ToLower(strings.TrimSpace(sc.Network))
		if !chainKey.MatchString(sc.Chain) {
			return derivation{}, fmt.Errorf("%s: %w: chain %q: want a chain key of 2 to 32 lower-case letters, digits and _",
				sc.Family, ErrInvalidPath, sc.Chain)
		}
		if sc.Network == "" {
			return derivation{}, fmt.Errorf("%s: %w: no network", sc.Chain, ErrInvalidPath)
		}
		if sc.Branch >= hardened {
			return derivation{}, fmt.Errorf("%s: %w: branch %d is out of range: must be below 2^31 (%d)",
				sc, ErrInvalidPath, sc.Branch, uint32(hardened))
		}
		return derivation{name: sc.String(), purpose: purposeBIP44, coin: coinETH, branch: sc.Branch}, nil
	}
	return derivation{}, fmt.Errorf("%w: unknown chain family %q: valid families are %s, %s", ErrInvalidPath, sc.Family, Bitcoin, EVM)
}

// path is the full derivation path of (account, index), both already checked.
func (d derivation) path(account, index uint32) []uint32 {
	return []uint32{d.purpose + hardened, d.coin + hardened, account + hardened, d.branch, index}
}

func (d derivation) label(account, index uint32) string {
	return fmt.Sprintf("%s account %d index %d", d.name, account, index)
}

// checkLevels refuses accounts and indexes of 2^31 and above: the top bit
// marks hardened derivation, so such an index would name another key.
func checkLevels(account, index uint32) error {
	if account >= hardened {
		return fmt.Errorf("%w: account %d is out of range: must be below 2^31 (%d)", ErrInvalidPath, account, uint32(hardened))
	}
	if index >= hardened {
		return fmt.Errorf("%w: index %d is out of range: must be below 2^31 (%d)", ErrInvalidPath, index, uint32(hardened))
	}
	return nil
}

// Path is the BIP32 path of the deposit key (account, index) of sc, as in
// "m/84'/0'/3'/0/7" or "m/44'/60'/3'/2/7".
func (sc Scheme) Path(account, index uint32) (string, error) {
	d, err := sc.resolve()
	if err != nil {
		return "", err
	}
	if err := checkLevels(account, index); err != nil {
		return "", fmt.Errorf("%s: %w", d.label(account, index), err)
	}
	return formatPath(d.path(account, index)), nil
}

func formatPath(path []uint32) string {
	var b strings.Builder
	b.WriteString("m")
	for _, i := range path {
		b.WriteByte('/')
		if i >= hardened {
			b.WriteString(strconv.FormatUint(uint64(i-hardened), 10))
			b.WriteByte('\'')
		} else {
			b.WriteString(strconv.FormatUint(uint64(i), 10))
		}
	}
	return b.String()
}

// AddressFor is the deposit address of (account, index) under sc: bech32
// P2WPKH on the Bitcoin family, EIP-55 on EVM chains.
func (s Seed) AddressFor(sc Scheme, account, index uint32) (string, error) {
	d, err := sc.resolve()
	if err != nil {
		return "", err
	}
	return s.address(d, account, index)
}

// PrivateKeyFor is the signing key behind AddressFor(sc, account, index),
// for sweeps.
func (s Seed) PrivateKeyFor(sc Scheme, account, index uint32) (*PrivateKey, error) {
	d, err := sc.resolve()
	if err != nil {
		return nil, err
	}
	return s.privateKey(d, account, index)
}

func (s Seed) address(d derivation, account, index uint32) (string, error) {
	k, err := s.leaf(d, account, index)
	if err != nil {
		return "", err
	}
	defer k.Zero()
	pub, err := k.ECPubKey()
	if err != nil {
		return "", fmt.Errorf("%s: %w", d.label(account, index), err)
	}
	if d.btc != nil {
		return p2wpkhAddress(pub, d.btc)
	}
	return ethAddress(pub), nil
}

func (s Seed) privateKey(d derivation, account, index uint32) (*PrivateKey, error) {
	k, err := s.leaf(d, account, index)
	if err != nil {
		return nil, err
	}
	defer k.Zero()
	priv, err := k.ECPrivKey()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.label(account, index), err)
	}
	return &PrivateKey{key: func() *btcec.PrivateKey { return priv }}, nil
}

// AccountXPub is the watch-only key of a Bitcoin-family account (m/84'/
// coin'/account'), as a zpub on mainnet and a vpub on test networks: what a
// wallet imports to watch, or ParseExtendedPublicKey reads.
func (s Seed) AccountXPub(sc Scheme, account uint32) (*XPub, error) {
	d, err := sc.resolve()
	if err != nil {
		return nil, err
	}
	label := fmt.Sprintf("%s account %d", d.name, account)
	if d.btc == nil {
		return nil, fmt.Errorf("%s: %w: watch-only account keys are for Bitcoin-family chains (BTC, LTC)", label, ErrInvalidPath)
	}
	if err := checkLevels(account, 0); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	k, err := s.derive(d.path(account, 0)[:3])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	defer k.Zero()
	v, err := p2wpkhVersion(d.btc.Network == "mainnet")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	pub, err := neuter(k, v.pubID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	return newXPub(pub, d.btc)
}

// leaf derives the private key of (account, index).
func (s Seed) leaf(d derivation, account, index uint32) (*hdkeychain.ExtendedKey, error) {
	if err := checkLevels(account, index); err != nil {
		return nil, fmt.Errorf("%s: %w", d.label(account, index), err)
	}
	k, err := s.derive(d.path(account, index))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.label(account, index), err)
	}
	return k, nil
}

// derive walks path from the master key. Each call starts from the seed:
// hdkeychain keys cache their public key on first use, so a key shared
// between goroutines would be a data race.
func (s Seed) derive(path []uint32) (*hdkeychain.ExtendedKey, error) {
	if s.bytes == nil {
		return nil, fmt.Errorf("%w: empty seed", ErrInvalidSeed)
	}
	// The version bytes only label the key when printed (xprv, as in the
	// BIP32 vectors); derivation does not read them.
	k, err := hdkeychain.NewMaster(s.bytes(), &chaincfg.MainNetParams)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	for _, i := range path {
		child, err := k.Derive(i)
		// Parents are done with: clear their secret bytes now rather than
		// leave them to the collector.
		k.Zero()
		if err != nil {
			return nil, fmt.Errorf("derive %s: %w", formatPath(path), err)
		}
		k = child
	}
	return k, nil
}

// neuter is hdkeychain's Neuter with the public version given rather than
// looked up in chaincfg's global registry, which lacks the SLIP-132 and
// Litecoin versions.
func neuter(k *hdkeychain.ExtendedKey, pubID [4]byte) (*hdkeychain.ExtendedKey, error) {
	pub, err := k.ECPubKey()
	if err != nil {
		return nil, err
	}
	var fp [4]byte
	fpv := k.ParentFingerprint()
	fp[0], fp[1], fp[2], fp[3] = byte(fpv>>24), byte(fpv>>16), byte(fpv>>8), byte(fpv)
	return hdkeychain.NewExtendedKey(pubID[:], pub.SerializeCompressed(), k.ChainCode(), fp[:],
		k.Depth(), k.ChildIndex(), false), nil
}

// p2wpkhAddress is the BIP84 address of pub: witness v0 over HASH160 of the
// compressed key, bech32 with the network's HRP.
func p2wpkhAddress(pub *btcec.PublicKey, p *bitcoin.Params) (string, error) {
	a, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(pub.SerializeCompressed()), p.ChainParams)
	if err != nil {
		return "", fmt.Errorf("%s %s p2wpkh address: %w", p.Chain, p.Network, err)
	}
	return a.EncodeAddress(), nil
}

// ethAddress is the last 20 bytes of Keccak-256 over the uncompressed key
// (without its 0x04 prefix), written with the EIP-55 checksum.
func ethAddress(pub *btcec.PublicKey) string {
	return common.BytesToAddress(crypto.Keccak256(pub.SerializeUncompressed()[1:])[12:]).Hex()
}

// PrivateKey is one derived signing key. It prints, logs and marshals as
// "[redacted]" (held in a closure, as Seed's bytes are); signing code takes
// the key itself from BTCEC.
type PrivateKey struct {
	redact
	key func() *btcec.PrivateKey
}

// BTCEC returns the key for signing: txscript takes it as is, go-ethereum
// as BTCEC().ToECDSA(). Never log what it returns. It is nil for a
// PrivateKey that PrivateKey did not make.
func (k *PrivateKey) BTCEC() *btcec.PrivateKey {
	if k == nil || k.key == nil {
		return nil
	}
	return k.key()
}
