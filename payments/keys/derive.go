package keys

import (
	"fmt"
	"slices"
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

// Currency is what a deposit address receives.
type Currency string

// Supported currencies. USDT is the ERC-20 token on Ethereum.
const (
	BTC  Currency = "BTC"
	LTC  Currency = "LTC"
	ETH  Currency = "ETH"
	USDT Currency = "USDT"
)

const hardened = hdkeychain.HardenedKeyStart

// Purposes, and Ethereum's SLIP-44 coin type, which serves every Ethereum
// network: wallets use 60 on testnets too, and addresses do not depend on
// the network.
const (
	purposeBIP44 = 44
	purposeBIP84 = 84
	coinETH      = 60
)

// ethNetworks are the Ethereum networks the config accepts (config.ETHNetworks).
func ethNetworks() []string { return []string{"mainnet", "sepolia", "holesky", "dev"} }

// scheme is where one currency's deposit keys live on one network and how
// their addresses are written.
type scheme struct {
	cur     Currency
	network string // canonical name
	purpose uint32
	coin    uint32
	// branch is the BIP44 "change" level. BTC, LTC and ETH deposits use the
	// receive branch 0. USDT uses 1, so a merchant's ETH and USDT deposit
	// addresses differ: on one address the two sweeps would compete, the ETH
	// sweep emptying the balance the token sweep pays its gas from, and both
	// drawing on the address's one nonce sequence.
	branch uint32
	btc    *bitcoin.Params // nil for Ethereum
}

func schemeFor(cur Currency, network string) (scheme, error) {
	switch cur {
	case BTC, LTC:
		chain := bitcoin.ChainBTC
		if cur == LTC {
			chain = bitcoin.ChainLTC
		}
		p, err := bitcoin.ParamsFor(chain, network)
		if err != nil {
			return scheme{}, fmt.Errorf("%s: %w: %w", cur, ErrInvalidPath, err)
		}
		// BIP84 m/84'/coin'/...: coin 0 for BTC, 2 for LTC, 1 on every test
		// network; HDCoinType holds exactly that per network.
		return scheme{cur: cur, network: p.Network, purpose: purposeBIP84, coin: p.ChainParams.HDCoinType, btc: p}, nil
	case ETH, USDT:
		n := strings.ToLower(strings.TrimSpace(network))
		if !slices.Contains(ethNetworks(), n) {
			return scheme{}, fmt.Errorf("%s: %w: unknown ethereum network %q: valid networks are %s",
				cur, ErrInvalidPath, network, strings.Join(ethNetworks(), ", "))
		}
		s := scheme{cur: cur, network: n, purpose: purposeBIP44, coin: coinETH}
		if cur == USDT {
			s.branch = 1
		}
		return s, nil
	}
	return scheme{}, fmt.Errorf("%w: unknown currency %q: valid currencies are %s, %s, %s, %s",
		ErrInvalidPath, cur, BTC, LTC, ETH, USDT)
}

// path is the full derivation path of (account, index), both already checked.
func (s scheme) path(account, index uint32) []uint32 {
	return []uint32{s.purpose + hardened, s.coin + hardened, account + hardened, s.branch, index}
}

func (s scheme) label(account, index uint32) string {
	return fmt.Sprintf("%s %s account %d index %d", s.cur, s.network, account, index)
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

// DerivationPath is the BIP32 path of a deposit key, as in "m/84'/0'/3'/0/7".
func DerivationPath(cur Currency, network string, account, index uint32) (string, error) {
	s, err := schemeFor(cur, network)
	if err != nil {
		return "", err
	}
	if err := checkLevels(account, index); err != nil {
		return "", fmt.Errorf("%s: %w", s.label(account, index), err)
	}
	return formatPath(s.path(account, index)), nil
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

// Address is the deposit address of (account, index) for cur on network:
// bech32 P2WPKH for BTC and LTC, EIP-55 for ETH and USDT.
func (s Seed) Address(cur Currency, network string, account, index uint32) (string, error) {
	sch, k, err := s.leaf(cur, network, account, index)
	if err != nil {
		return "", err
	}
	defer k.Zero()
	pub, err := k.ECPubKey()
	if err != nil {
		return "", fmt.Errorf("%s: %w", sch.label(account, index), err)
	}
	if sch.btc != nil {
		return p2wpkhAddress(pub, sch.btc)
	}
	return ethAddress(pub), nil
}

// PrivateKey is the signing key behind Address(cur, network, account, index),
// for sweeps.
func (s Seed) PrivateKey(cur Currency, network string, account, index uint32) (*PrivateKey, error) {
	sch, k, err := s.leaf(cur, network, account, index)
	if err != nil {
		return nil, err
	}
	defer k.Zero()
	priv, err := k.ECPrivKey()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sch.label(account, index), err)
	}
	return &PrivateKey{key: func() *btcec.PrivateKey { return priv }}, nil
}

// AccountXPub is the watch-only key of a BTC or LTC account (m/84'/coin'/
// account'), as a zpub on mainnet and a vpub on test networks: what a wallet
// imports to watch, or ParseExtendedPublicKey reads.
func (s Seed) AccountXPub(cur Currency, network string, account uint32) (*XPub, error) {
	sch, err := schemeFor(cur, network)
	if err != nil {
		return nil, err
	}
	label := fmt.Sprintf("%s %s account %d", sch.cur, sch.network, account)
	if sch.btc == nil {
		return nil, fmt.Errorf("%s: %w: watch-only account keys are for BTC and LTC", label, ErrInvalidPath)
	}
	if err := checkLevels(account, 0); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	k, err := s.derive(sch.path(account, 0)[:3])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	defer k.Zero()
	v, err := p2wpkhVersion(sch.btc.Network == "mainnet")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	pub, err := neuter(k, v.pubID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	return newXPub(pub, sch.btc)
}

// leaf derives the private key of (account, index).
func (s Seed) leaf(cur Currency, network string, account, index uint32) (scheme, *hdkeychain.ExtendedKey, error) {
	sch, err := schemeFor(cur, network)
	if err != nil {
		return scheme{}, nil, err
	}
	if err := checkLevels(account, index); err != nil {
		return scheme{}, nil, fmt.Errorf("%s: %w", sch.label(account, index), err)
	}
	k, err := s.derive(sch.path(account, index))
	if err != nil {
		return scheme{}, nil, fmt.Errorf("%s: %w", sch.label(account, index), err)
	}
	return sch, k, nil
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
