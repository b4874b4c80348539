package bitcoin

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// Chain identifiers accepted by ParamsFor.
const (
	ChainBTC = "btc"
	ChainLTC = "ltc"
)

// Params describes one Bitcoin-family network: what the decoder and the
// address encoder need to know about it. The coins differ only in data, so
// one table (netTable) holds every network.
type Params struct {
	Chain   string // "btc" or "ltc"
	Network string // canonical network name: mainnet, testnet, testnet4, regtest, signet

	PubKeyHashAddrID byte // base58 version byte of P2PKH addresses
	ScriptHashAddrID byte // base58 version byte used to encode P2SH addresses
	// LegacyScriptHashAddrID is the P2SH version byte Litecoin used before
	// its own (0x05 '3' on mainnet, 0xc4 on test networks). Addresses with it
	// still decode to the same script, but nothing is encoded with it. For
	// Bitcoin it equals ScriptHashAddrID.
	LegacyScriptHashAddrID byte
	Bech32HRP              string // human-readable part of segwit addresses

	// Magic is the message start as it appears on the wire and before every
	// record of blk*.dat files.
	Magic [4]byte

	// MWEB is true for Litecoin networks: transactions may carry the MWEB
	// flag (0x08) and a block may end with a HogEx and an extension block.
	MWEB bool

	// ChainParams is the btcd view of the network, for btcutil and txscript
	// address encoding. For Bitcoin it is a copy of btcd's own parameters.
	// For Litecoin only identity and address fields are set (consensus
	// fields are zero), and it is never passed to chaincfg.Register:
	// btcutil.DecodeAddress consults that global registry for bech32
	// prefixes, so it cannot decode ltc1 addresses with these parameters.
	ChainParams *chaincfg.Params
}

// netSpec is one row of the network table.
type netSpec struct {
	chain, network string
	aliases        []string
	p2pkh, p2sh    byte
	p2shLegacy     byte
	hrp            string
	magic          [4]byte
	mweb           bool
	// ltc holds the Litecoin-only facts needed to build chaincfg.Params;
	// Bitcoin rows take theirs from btcd instead.
	base func() chaincfg.Params
	ltc  *ltcFacts
}

// ltcFacts are the Litecoin Core chainparams.cpp values that chaincfg.Params
// has fields for.
type ltcFacts struct {
	port        string
	genesis     string // display-order hex
	wif         byte
	hdPriv      [4]byte
	hdPub       [4]byte
	hdCoinType  uint32
	displayName string
}

// netTable lists every supported network. It is a function, not a package
// variable, so nothing shared can be modified by a caller.
func netTable() []netSpec {
	return []netSpec{
		btcSpec("mainnet", nil, func() chaincfg.Params { return chaincfg.MainNetParams }),
		btcSpec("testnet", []string{"testnet3"}, func() chaincfg.Params { return chaincfg.TestNet3Params }),
		btcSpec("regtest", nil, func() chaincfg.Params { return chaincfg.RegressionNetParams }),
		btcSpec("signet", nil, func() chaincfg.Params { return chaincfg.SigNetParams }),
		// Litecoin values from litecoin-project/litecoin src/chainparams.cpp.
		{
			chain: ChainLTC, network: "mainnet",
			p2pkh: 0x30, p2sh: 0x32, p2shLegacy: 0x05, hrp: "ltc",
			magic: [4]byte{0xfb, 0xc0, 0xb6, 0xdb}, mweb: true,
			ltc: &ltcFacts{
				port:    "9333",
				genesis: "12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2",
				wif:     0xb0, hdPriv: [4]byte{0x04, 0x88, 0xad, 0xe4}, hdPub: [4]byte{0x04, 0x88, 0xb2, 0x1e},
				hdCoinType: 2, displayName: "ltc-mainnet",
			},
		},
		{
			chain: ChainLTC, network: "testnet4", aliases: []string{"testnet"},
			p2pkh: 0x6f, p2sh: 0x3a, p2shLegacy: 0xc4, hrp: "tltc",
			magic: [4]byte{0xfd, 0xd2, 0xc8, 0xf1}, mweb: true,
			ltc: &ltcFacts{
				port:    "19335",
				genesis: "4966625a4b2851d9fdee139e56211a0d88575f59ed816ff5e6a63deb4e3e29a0",
				wif:     0xef, hdPriv: [4]byte{0x04, 0x35, 0x83, 0x94}, hdPub: [4]byte{0x04, 0x35, 0x87, 0xcf},
				hdCoinType: 1, displayName: "ltc-testnet4",
			},
		},
		{
			chain: ChainLTC, network: "regtest",
			p2pkh: 0x6f, p2sh: 0x3a, p2shLegacy: 0xc4, hrp: "rltc",
			magic: [4]byte{0xfa, 0xbf, 0xb5, 0xda}, mweb: true,
			ltc: &ltcFacts{
				port:    "19444",
				genesis: "530827f38f93b43ed12af0b3ad25a288dc02ed74d6d7857862df51fc56c416f9",
				wif:     0xef, hdPriv: [4]byte{0x04, 0x35, 0x83, 0x94}, hdPub: [4]byte{0x04, 0x35, 0x87, 0xcf},
				hdCoinType: 1, displayName: "ltc-regtest",
			},
		},
	}
}

// btcSpec derives a Bitcoin row from btcd's parameters, so the two cannot
// disagree.
func btcSpec(network string, aliases []string, base func() chaincfg.Params) netSpec {
	cp := base()
	var magic [4]byte
	binary.LittleEndian.PutUint32(magic[:], uint32(cp.Net))
	return netSpec{
		chain: ChainBTC, network: network, aliases: aliases,
		p2pkh: cp.PubKeyHashAddrID, p2sh: cp.ScriptHashAddrID, p2shLegacy: cp.ScriptHashAddrID,
		hrp: cp.Bech32HRPSegwit, magic: magic, base: base,
	}
}

// ParamsFor returns the parameters of network on chain ("btc" or "ltc").
// Each call returns a fresh value that the caller may keep or modify.
func ParamsFor(chain, network string) (*Params, error) {
	chain = strings.ToLower(strings.TrimSpace(chain))
	network = strings.ToLower(strings.TrimSpace(network))
	var known []string
	for _, s := range netTable() {
		if s.chain != chain {
			continue
		}
		known = append(known, s.network)
		if s.network == network || slices.Contains(s.aliases, network) {
			return s.params()
		}
	}
	if known == nil {
		return nil, fmt.Errorf("unknown chain %q: valid chains are %s, %s", chain, ChainBTC, ChainLTC)
	}
	return nil, fmt.Errorf("unknown %s network %q: valid networks are %s", chain, network, strings.Join(known, ", "))
}

// Networks lists the canonical network names of chain, in table order.
func Networks(chain string) []string {
	var out []string
	for _, s := range netTable() {
		if s.chain == chain {
			out = append(out, s.network)
		}
	}
	return out
}

func (s netSpec) params() (*Params, error) {
	p := &Params{
		Chain:                  s.chain,
		Network:                s.network,
		PubKeyHashAddrID:       s.p2pkh,
		ScriptHashAddrID:       s.p2sh,
		LegacyScriptHashAddrID: s.p2shLegacy,
		Bech32HRP:              s.hrp,
		Magic:                  s.magic,
		MWEB:                   s.mweb,
	}
	if s.base != nil {
		cp := s.base()
		p.ChainParams = &cp
		return p, nil
	}
	genesis, err := chainhash.NewHashFromStr(s.ltc.genesis)
	if err != nil {
		return nil, fmt.Errorf("%s %s genesis hash %q: %w", s.chain, s.network, s.ltc.genesis, err)
	}
	p.ChainParams = &chaincfg.Params{
		Name:             s.ltc.displayName,
		Net:              wire.BitcoinNet(binary.LittleEndian.Uint32(s.magic[:])),
		DefaultPort:      s.ltc.port,
		GenesisHash:      genesis,
		Bech32HRPSegwit:  s.hrp,
		PubKeyHashAddrID: s.p2pkh,
		ScriptHashAddrID: s.p2sh,
		PrivateKeyID:     s.ltc.wif,
		HDPrivateKeyID:   s.ltc.hdPriv,
		HDPublicKeyID:    s.ltc.hdPub,
		HDCoinType:       s.ltc.hdCoinType,
	}
	return p, nil
}
