package payments

import (
	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/indexer/ethereum"
)

// ValidAddress checks that addr can receive on chain (a chain key) and
// network: a BTC or LTC address of that network, or a 0x address on an EVM
// chain, for its coin and its tokens alike.
func ValidAddress(chainKey, network, addr string) error {
	if chain.FamilyOf(chainKey) == chain.EVM {
		return ethereum.ValidateAddress(addr)
	}
	params, err := bitcoin.ParamsFor(chainKey, network)
	if err != nil {
		return err
	}
	return bitcoin.ValidateAddress(addr, params)
}
