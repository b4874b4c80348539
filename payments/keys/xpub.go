package keys

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/sluicepay/sluice/indexer/bitcoin"
)

// What the addresses of a key with given version bytes look like (SLIP-132).
const (
	scriptAny      = "any" // plain BIP32 (xpub, tpub, Ltub, ttub): the type is not said
	scriptP2WPKH   = "p2wpkh"
	scriptP2SHWPKH = "p2sh-p2wpkh"
	scriptMultisig = "multisig"
)

// xkeyVersion is one registered pair of extended key version bytes.
type xkeyVersion struct {
	pub, prv     string // the base58 prefixes, "zpub" and "zprv"
	pubID, prvID [4]byte
	mainnet      bool
	ltcOnly      bool // a Litecoin-only version
	script       string
}

// xkeyVersions are the version bytes of SLIP-0132 (satoshilabs/slips
// slip-0132.md). SLIP-132 registers no P2WPKH version for Litecoin; the
// published Litecoin BIP84 account keys use zpub and vpub, as Bitcoin's do.
func xkeyVersions() []xkeyVersion {
	return []xkeyVersion{
		{"xpub", "xprv", [4]byte{0x04, 0x88, 0xb2, 0x1e}, [4]byte{0x04, 0x88, 0xad, 0xe4}, true, false, scriptAny},
		{"ypub", "yprv", [4]byte{0x04, 0x9d, 0x7c, 0xb2}, [4]byte{0x04, 0x9d, 0x78, 0x78}, true, false, scriptP2SHWPKH},
		{"zpub", "zprv", [4]byte{0x04, 0xb2, 0x47, 0x46}, [4]byte{0x04, 0xb2, 0x43, 0x0c}, true, false, scriptP2WPKH},
		{"Ypub", "Yprv", [4]byte{0x02, 0x95, 0xb4, 0x3f}, [4]byte{0x02, 0x95, 0xb0, 0x05}, true, false, scriptMultisig},
		{"Zpub", "Zprv", [4]byte{0x02, 0xaa, 0x7e, 0xd3}, [4]byte{0x02, 0xaa, 0x7a, 0x99}, true, false, scriptMultisig},
		{"tpub", "tprv", [4]byte{0x04, 0x35, 0x87, 0xcf}, [4]byte{0x04, 0x35, 0x83, 0x94}, false, false, scriptAny},
		{"upub", "uprv", [4]byte{0x04, 0x4a, 0x52, 0x62}, [4]byte{0x04, 0x4a, 0x4e, 0x28}, false, false, scriptP2SHWPKH},
		{"Upub", "Uprv", [4]byte{0x02, 0x42, 0x89, 0xef}, [4]byte{0x02, 0x42, 0x85, 0xb5}, false, false, scriptMultisig},
		{"vpub", "vprv", [4]byte{0x04, 0x5f, 0x1c, 0xf6}, [4]byte{0x04, 0x5f, 0x18, 0xbc}, false, false, scriptP2WPKH},
		{"Vpub", "Vprv", [4]byte{0x02, 0x57, 0x54, 0x83}, [4]byte{0x02, 0x57, 0x50, 0x48}, false, false, scriptMultisig},
		{"Ltub", "Ltpv", [4]byte{0x01, 0x9d, 0xa4, 0x62}, [4]byte{0x01, 0x9d, 0x9c, 0xfe}, true, true, scriptAny},
		{"Mtub", "Mtpv", [4]byte{0x01, 0xb2, 0x6e, 0xf6}, [4]byte{0x01, 0xb2, 0x67, 0x92}, true, true, scriptP2SHWPKH},
		{"ttub", "ttpv", [4]byte{0x04, 0x36, 0xf6, 0xe1}, [4]byte{0x04, 0x36, 0xef, 0x7d}, false, true, scriptAny},
	}
}

// p2wpkhVersion is the version a BIP84 account key is exported with: zpub
// on mainnet, vpub on test networks.
func p2wpkhVersion(mainnet bool) (xkeyVersion, error) {
	for _, v := range xkeyVersions() {
		if v.script == scriptP2WPKH && v.mainnet == mainnet && !v.ltcOnly {
			return v, nil
		}
	}
	return xkeyVersion{}, fmt.Errorf("no P2WPKH extended key version for mainnet=%t", mainnet)
}

// accepted lists the versions a watch-only key of chain and network may have.
func accepted(p *bitcoin.Params) []xkeyVersion {
	var out []xkeyVersion
	for _, v := range xkeyVersions() {
		if (v.script == scriptAny || v.script == scriptP2WPKH) &&
			v.mainnet == (p.Network == "mainnet") && (!v.ltcOnly || p.Chain == bitcoin.ChainLTC) {
			out = append(out, v)
		}
	}
	return out
}

func (v xkeyVersion) netName() string {
	coin := "Bitcoin or Litecoin"
	if v.ltcOnly {
		coin = "Litecoin"
	}
	if v.mainnet {
		return coin + " mainnet"
	}
	return coin + " test-network"
}

// extKey is a decoded BIP32 serialization, checked as BIP32 asks.
type extKey struct {
	version   xkeyVersion
	private   bool
	depth     uint8
	parentFP  [4]byte
	child     uint32
	chainCode [32]byte
	key       [33]byte // 0x00 || k, or a compressed public key
}

// keyLabel names an extended key in an error without quoting it: its first
// eight characters (the version and depth, nothing secret even of an xprv).
func keyLabel(s string) string {
	const n = 8
	if len(s) <= n {
		return fmt.Sprintf("extended key %q", s)
	}
	return fmt.Sprintf("extended key %q…", s[:n])
}

// decodeExtendedKey decodes and checks a BIP32 serialized key, public or
// private: base58 checksum, known version, key type matching the version, a
// valid point or scalar, and a root (depth 0) with no parent.
func decodeExtendedKey(s string) (extKey, error) {
	var k extKey
	raw := base58.Decode(s)
	if len(raw) != 82 {
		return k, fmt.Errorf("%w: not base58 of 78 bytes and a checksum", ErrInvalidExtendedKey)
	}
	payload, sum := raw[:78], raw[78:]
	if !bytes.Equal(chainhash.DoubleHashB(payload)[:4], sum) {
		return k, fmt.Errorf("%w: checksum does not match (a typo, or a truncated copy)", ErrInvalidExtendedKey)
	}
	var id [4]byte
	copy(id[:], payload[:4])
	found := false
	for _, v := range xkeyVersions() {
		if id == v.pubID || id == v.prvID {
			k.version, k.private, found = v, id == v.prvID, true
			break
		}
	}
	if !found {
		return k, fmt.Errorf("%w: unknown version bytes %x", ErrInvalidExtendedKey, id)
	}
	k.depth = payload[4]
	copy(k.parentFP[:], payload[5:9])
	k.child = binary.BigEndian.Uint32(payload[9:13])
	copy(k.chainCode[:], payload[13:45])
	copy(k.key[:], payload[45:78])

	switch {
	case k.private && k.key[0] != 0x00:
		return k, fmt.Errorf("%w: %s version but the key data is not a private key", ErrInvalidExtendedKey, k.version.prv)
	case k.private:
		var d btcec.ModNScalar
		if overflow := d.SetByteSlice(k.key[1:]); overflow || d.IsZero() {
			return k, fmt.Errorf("%w: private key is not in 1..n-1", ErrInvalidExtendedKey)
		}
	case k.key[0] == 0x00:
		return k, fmt.Errorf("%w: %s version but the key data is a private key", ErrInvalidExtendedKey, k.version.pub)
	case k.key[0] != 0x02 && k.key[0] != 0x03:
		return k, fmt.Errorf("%w: public key prefix %02x is not 02 or 03", ErrInvalidExtendedKey, k.key[0])
	default:
		if _, err := btcec.ParsePubKey(k.key[:]); err != nil {
			return k, fmt.Errorf("%w: public key is not on secp256k1: %w", ErrInvalidExtendedKey, err)
		}
	}
	if k.depth == 0 && (k.parentFP != [4]byte{} || k.child != 0) {
		return k, fmt.Errorf("%w: a depth 0 (master) key with a parent fingerprint or child number", ErrInvalidExtendedKey)
	}
	return k, nil
}

// XPub is a merchant's watch-only BIP84 account key (m/84'/coin'/account')
// for one chain and network. It holds no secret and may be printed.
type XPub struct {
	text     string
	params   *bitcoin.Params
	external *hdkeychain.ExtendedKey // account/0, the receive chain
}

// ParseExtendedPublicKey reads a BIP84 account key for chain ("btc", "ltc")
// on network: zpub or xpub on mainnet, vpub or tpub on test networks, and on
// Litecoin also Ltub (mainnet) and ttub (test) of SLIP-132. Whatever its
// version, the key's addresses are taken to be native segwit P2WPKH; the
// merchant's wallet must watch those (a BIP84 account does). Keys that say
// another address type (ypub, Mtub, multisig), private keys, keys of another
// network and keys that are not at the account level are refused. Nothing in
// a key names its coin, so a Bitcoin zpub given for Litecoin is taken.
func ParseExtendedPublicKey(s string, chain, network string) (*XPub, error) {
	p, err := bitcoin.ParamsFor(chain, network)
	if err != nil {
		return nil, fmt.Errorf("watch-only key: %w: %w", ErrInvalidExtendedKey, err)
	}
	s = strings.TrimSpace(s)
	label := keyLabel(s)
	k, err := decodeExtendedKey(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	v := k.version
	want := accepted(p)
	names := make([]string, len(want))
	for i, a := range want {
		names[i] = a.pub
	}
	expected := fmt.Sprintf("%s %s takes the account's extended public key (%s)", p.Chain, p.Network, strings.Join(names, ", "))
	switch {
	case k.private:
		return nil, fmt.Errorf("%s: %w: this is an extended private key (%s); %s: watching needs no private key, keep it secret",
			label, ErrInvalidExtendedKey, v.prv, expected)
	case v.script == scriptP2SHWPKH:
		return nil, fmt.Errorf("%s: %w: %s is a P2WPKH-in-P2SH (BIP49) key, but deposits are native segwit (BIP84); %s",
			label, ErrInvalidExtendedKey, v.pub, expected)
	case v.script == scriptMultisig:
		return nil, fmt.Errorf("%s: %w: %s is a multisig key, but deposits are single-key native segwit (BIP84); %s",
			label, ErrInvalidExtendedKey, v.pub, expected)
	case v.mainnet != (p.Network == "mainnet") || (v.ltcOnly && p.Chain != bitcoin.ChainLTC):
		return nil, fmt.Errorf("%s: %w: %s is a %s key; %s", label, ErrInvalidExtendedKey, v.pub, v.netName(), expected)
	case k.depth != 3 || k.child < hardened:
		return nil, fmt.Errorf("%s: %w: key at depth %d (child %s); want the account key at depth 3, m/84'/%d'/account'",
			label, ErrInvalidExtendedKey, k.depth, formatPath([]uint32{k.child})[2:], p.ChainParams.HDCoinType)
	}
	key := hdkeychain.NewExtendedKey(v.pubID[:], k.key[:], k.chainCode[:], k.parentFP[:], k.depth, k.child, false)
	x, err := newXPub(key, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	return x, nil
}

func newXPub(account *hdkeychain.ExtendedKey, p *bitcoin.Params) (*XPub, error) {
	ext, err := account.Derive(0)
	if err != nil {
		// Fails for one key in 2^127: no wallet could use this account.
		return nil, fmt.Errorf("%w: receive chain: %w", ErrInvalidExtendedKey, err)
	}
	return &XPub{text: account.String(), params: p, external: ext}, nil
}

// String is the key in base58, as given.
func (x *XPub) String() string { return x.text }

// Address is the P2WPKH address at 0/index below the account: what the
// merchant's wallet shows as receive address number index.
func (x *XPub) Address(index uint32) (string, error) {
	if x == nil || x.external == nil {
		return "", fmt.Errorf("%w: no watch-only key", ErrInvalidExtendedKey)
	}
	if err := checkLevels(0, index); err != nil {
		return "", fmt.Errorf("%s %s watch-only index %d: %w", x.params.Chain, x.params.Network, index, err)
	}
	// Public derivation only reads the parent, so concurrent calls are safe.
	k, err := x.external.Derive(index)
	if err != nil {
		return "", fmt.Errorf("%s %s watch-only index %d: %w", x.params.Chain, x.params.Network, index, err)
	}
	pub, err := k.ECPubKey()
	if err != nil {
		return "", fmt.Errorf("%s %s watch-only index %d: %w", x.params.Chain, x.params.Network, index, err)
	}
	return p2wpkhAddress(pub, x.params)
}
