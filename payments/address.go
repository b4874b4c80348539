package payments

import (
	"github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/indexer/ethereum"
)

// ValidAddress checks that addr can receive currency on network: a BTC or
// LTC address of that network, or an Ethereum address for ETH and tokens.
func ValidAddress(currency, network, addr string) error {
	chain := ChainOf(currency)
	if chain == "" {
		return ErrUnknownCurrency
	}
	if chain == "eth" {
		return ethereum.ValidateAddress(addr)
	}
	params, err := bitcoin.ParamsFor(chain, network)
	if err != nil {
		return err
	}
	return bitcoin.ValidateAddress(addr, params)
}
