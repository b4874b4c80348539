package payments

import (
	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/indexer/ethereum"
)

// ValidAddress checks that addr can receive currency on network: a BTC or
// LTC address of that network, or an Ethereum address for ETH and tokens.
func ValidAddress(currency, network, addr string) error {
	c, ok := chain.Builtin(currency)
	if !ok {
		return ErrUnknownCurrency
	}
	if c.Family == chain.EVM {
		return ethereum.ValidateAddress(addr)
	}
	params, err := bitcoin.ParamsFor(c.Chain, network)
	if err != nil {
		return err
	}
	return bitcoin.ValidateAddress(addr, params)
}
