package bitcoin

import (
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/bech32"
)

// ValidateAddress checks that addr is a standard address of the network:
// base58 P2PKH/P2SH with the network's version bytes, or a segwit address
// with its HRP (v0 bech32 with a 20- or 32-byte program, v1+ bech32m).
// It works for Litecoin too, which btcutil.DecodeAddress cannot decode
// without registering the network globally.
func ValidateAddress(addr string, p *Params) error {
	if addr == "" {
		return fmt.Errorf("address is empty")
	}
	if len(addr) > 90 {
		return fmt.Errorf("address %.20q… is too long", addr)
	}
	if hrp, _, ok := strings.Cut(strings.ToLower(addr), "1"); ok && hrp == p.Bech32HRP {
		return validSegwit(addr, p)
	}
	payload, version, err := base58.CheckDecode(addr)
	if err != nil {
		return fmt.Errorf("%q is not a %s %s address", addr, p.Chain, p.Network)
	}
	if len(payload) != 20 {
		return fmt.Errorf("%q has a %d-byte payload; addresses have 20", addr, len(payload))
	}
	switch version {
	case p.PubKeyHashAddrID, p.ScriptHashAddrID, p.LegacyScriptHashAddrID:
		return nil
	}
	return fmt.Errorf("%q is not a %s %s address (version byte %#x)", addr, p.Chain, p.Network, version)
}

func validSegwit(addr string, p *Params) error {
	hrp, data, variant, err := bech32.DecodeGeneric(addr)
	if err != nil || hrp != p.Bech32HRP || len(data) == 0 {
		return fmt.Errorf("%q is not a valid %s %s segwit address", addr, p.Chain, p.Network)
	}
	version := data[0]
	program, err := bech32.ConvertBits(data[1:], 5, 8, false)
	if err != nil || version > 16 || len(program) < 2 || len(program) > 40 {
		return fmt.Errorf("%q is not a valid segwit address", addr)
	}
	switch {
	case version == 0 && variant != bech32.Version0, version > 0 && variant != bech32.VersionM:
		return fmt.Errorf("%q uses the wrong checksum for witness version %d", addr, version)
	case version == 0 && len(program) != 20 && len(program) != 32:
		return fmt.Errorf("%q has a %d-byte v0 program; it must be 20 or 32", addr, len(program))
	}
	return nil
}
