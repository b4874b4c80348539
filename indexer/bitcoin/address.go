package bitcoin

import (
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/bech32"
)

// ValidateAddress checks that addr can receive coins on p's network: a
// segwit address with its HRP (v0 bech32 with a 20- or 32-byte program, v1+
// bech32m; BIP 173, BIP 350) or a base58 P2PKH/P2SH address with its version
// bytes. An address of another network or chain is refused naming it. It
// works for Litecoin too, which btcutil.DecodeAddress cannot decode without
// registering the network globally.
func ValidateAddress(addr string, p *Params) error {
	chain := p.Chain
	if addr == "" {
		return fmt.Errorf("no address")
	}
	lower := strings.ToLower(addr)
	if chain == "ltc" && (strings.HasPrefix(lower, "tmweb1") || strings.HasPrefix(lower, "ltcmweb1")) {
		return fmt.Errorf("%.24q…: MWEB addresses are not supported (sluice indexes the canonical chain, not the MWEB extension block): use an %s1… address", addr, p.Bech32HRP)
	}
	if len(addr) > 100 {
		return fmt.Errorf("%.20q… is too long for an address", addr)
	}
	if strings.HasPrefix(lower, p.Bech32HRP+"1") {
		return validateSegwit(p, addr)
	}
	// Another network's segwit address? Name it.
	for _, other := range []string{"btc", "ltc"} {
		for _, network := range Networks(other) {
			op, err := ParamsFor(other, network)
			if err != nil {
				continue
			}
			if strings.HasPrefix(lower, op.Bech32HRP+"1") && (other != chain || network != p.Network) {
				return wrongNetwork(addr, other, network, p)
			}
		}
	}
	payload, version, err := base58.CheckDecode(addr)
	if err != nil || len(payload) != 20 {
		return fmt.Errorf("%q is not a %s %s address: want %s1… (segwit) or a %s base58 address", addr, strings.ToUpper(chain), p.Network, p.Bech32HRP, p.Network)
	}
	if version == p.PubKeyHashAddrID || version == p.ScriptHashAddrID || version == p.LegacyScriptHashAddrID {
		return nil
	}
	for _, other := range []string{chain, otherChain(chain)} {
		for _, network := range Networks(other) {
			op, err := ParamsFor(other, network)
			if err != nil {
				continue
			}
			if version == op.PubKeyHashAddrID || version == op.ScriptHashAddrID || version == op.LegacyScriptHashAddrID {
				return wrongNetwork(addr, other, network, p)
			}
		}
	}
	return fmt.Errorf("%q is not a %s %s address (base58 version byte 0x%02x)", addr, strings.ToUpper(chain), p.Network, version)
}

func otherChain(chain string) string {
	if chain == "btc" {
		return "ltc"
	}
	return "btc"
}

func wrongNetwork(addr, other, network string, p *Params) error {
	return fmt.Errorf("%q is a %s %s address; this %s runs %s: want %s1… (or a %s base58 address)",
		addr, strings.ToUpper(other), network, strings.ToUpper(p.Chain), p.Network, p.Bech32HRP, p.Network)
}

// validateSegwit checks a bech32 (witness v0) or bech32m (v1+) address of p's HRP (BIP 173, BIP 350).
func validateSegwit(p *Params, addr string) error {
	bad := func(why string) error {
		return fmt.Errorf("%q is not a valid %s address: %s", addr, p.Bech32HRP+"1…", why)
	}
	hrp, data, enc, err := bech32.DecodeGeneric(addr)
	if errors.As(err, new(bech32.ErrInvalidChecksum)) {
		// Not the expected checksum in the message: "fixing" an address with it pays a typo.
		return bad("the checksum does not match (a typo?)")
	}
	if err != nil {
		return bad(err.Error())
	}
	if hrp != p.Bech32HRP {
		return bad("prefix " + hrp)
	}
	if len(data) < 1 {
		return bad("no witness version")
	}
	ver := data[0]
	prog, err := bech32.ConvertBits(data[1:], 5, 8, false)
	if err != nil {
		return bad(err.Error())
	}
	switch {
	case ver > 16:
		return bad(fmt.Sprintf("witness version %d", ver))
	case ver == 0 && enc != bech32.Version0:
		return bad("witness v0 must use bech32, not bech32m")
	case ver > 0 && enc != bech32.VersionM:
		return bad(fmt.Sprintf("witness v%d must use bech32m", ver))
	case ver == 0 && len(prog) != 20 && len(prog) != 32:
		return bad(fmt.Sprintf("a witness v0 program is 20 or 32 bytes, not %d", len(prog)))
	case len(prog) < 2 || len(prog) > 40:
		return bad(fmt.Sprintf("a witness program is 2 to 40 bytes, not %d", len(prog)))
	}
	return nil
}
