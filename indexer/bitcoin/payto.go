package bitcoin

import (
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/bech32"
)

// AddressScript is the output script that pays addr on p's network, for
// building transactions: the witness program of a segwit address (v0 or
// v1+), P2PKH or P2SH for a base58 address (Litecoin's legacy '3' P2SH
// version included). The address is checked with ValidateAddress first, so
// an address of another network or chain is refused with its reason. Unlike
// btcutil.DecodeAddress it needs no global network registry, so Litecoin
// addresses work. ClassifyScript reads the script back to addr (for a
// legacy Litecoin P2SH address, to its current 'M' form).
func AddressScript(addr string, p *Params) ([]byte, error) {
	if err := ValidateAddress(addr, p); err != nil {
		return nil, err
	}
	if strings.HasPrefix(strings.ToLower(addr), p.Bech32HRP+"1") {
		_, data, _, err := bech32.DecodeGeneric(addr)
		if err != nil || len(data) < 1 {
			return nil, fmt.Errorf("%q: %v", addr, err)
		}
		prog, err := bech32.ConvertBits(data[1:], 5, 8, false)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", addr, err)
		}
		op := byte(op0)
		if v := data[0]; v > 0 {
			op = op1 - 1 + v
		}
		return append([]byte{op, byte(len(prog))}, prog...), nil
	}
	hash, version, err := base58.CheckDecode(addr)
	if err != nil || len(hash) != 20 {
		return nil, fmt.Errorf("%q is not a base58 address", addr)
	}
	switch version {
	case p.PubKeyHashAddrID:
		s := make([]byte, 0, 25)
		s = append(s, opDup, opHash160, opData20)
		s = append(s, hash...)
		return append(s, opEqualVerify, opCheckSig), nil
	case p.ScriptHashAddrID, p.LegacyScriptHashAddrID:
		s := make([]byte, 0, 23)
		s = append(s, opHash160, opData20)
		s = append(s, hash...)
		return append(s, opEqual), nil
	}
	return nil, fmt.Errorf("%q: base58 version byte 0x%02x is not a %s %s address", addr, version, strings.ToUpper(p.Chain), p.Network)
}
