package keys

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicepay/sluice/indexer/bitcoin"
)

// Currency is one of the four currencies sluice had before the chain
// registry. Address and PrivateKey take it for the callers not yet moved to
// a Scheme (the registry's currencies); it knows no other currency.
type Currency string

// The currencies Address and PrivateKey know. USDT is the ERC-20 token on
// Ethereum, on key branch 1.
const (
	BTC  Currency = "BTC"
	LTC  Currency = "LTC"
	ETH  Currency = "ETH"
	USDT Currency = "USDT"
)

// ethNetworks are the Ethereum networks the config accepts (config.ETHNetworks).
func ethNetworks() []string { return []string{"mainnet", "sepolia", "holesky", "dev"} }

// schemeFor is cur's derivation on network, with the checks and messages
// Address always had.
func schemeFor(cur Currency, network string) (derivation, error) {
	switch cur {
	case BTC, LTC:
		chain := bitcoin.ChainBTC
		if cur == LTC {
			chain = bitcoin.ChainLTC
		}
		p, err := bitcoin.ParamsFor(chain, network)
		if err != nil {
			return derivation{}, fmt.Errorf("%s: %w: %w", cur, ErrInvalidPath, err)
		}
		d, err := Scheme{Family: Bitcoin, Chain: chain, Network: p.Network}.resolve()
		d.name = string(cur) + " " + p.Network
		return d, err
	case ETH, USDT:
		n := strings.ToLower(strings.TrimSpace(network))
		if !slices.Contains(ethNetworks(), n) {
			return derivation{}, fmt.Errorf("%s: %w: unknown ethereum network %q: valid networks are %s",
				cur, ErrInvalidPath, network, strings.Join(ethNetworks(), ", "))
		}
		sc := Scheme{Family: EVM, Chain: "eth", Network: n}
		if cur == USDT {
			sc.Branch = 1
		}
		d, err := sc.resolve()
		d.name = string(cur) + " " + n
		return d, err
	}
	return derivation{}, fmt.Errorf("%w: unknown currency %q: valid currencies are %s, %s, %s, %s",
		ErrInvalidPath, cur, BTC, LTC, ETH, USDT)
}

// Address is AddressFor with cur's scheme on network: bech32 P2WPKH for BTC
// and LTC, EIP-55 for ETH and USDT (branch 1).
func (s Seed) Address(cur Currency, network string, account, index uint32) (string, error) {
	d, err := schemeFor(cur, network)
	if err != nil {
		return "", err
	}
	return s.address(d, account, index)
}

// PrivateKey is the signing key behind Address(cur, network, account, index).
func (s Seed) PrivateKey(cur Currency, network string, account, index uint32) (*PrivateKey, error) {
	d, err := schemeFor(cur, network)
	if err != nil {
		return nil, err
	}
	return s.privateKey(d, account, index)
}
