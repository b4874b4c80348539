package payments

import (
	"fmt"

	"github.com/sluicepay/sluice/payments/keys"
)

// SeedKeys derives custodial deposit addresses from the master seed, for
// the network configured per currency.
type SeedKeys struct {
	Seed     keys.Seed
	Networks map[string]string // currency -> network, e.g. "BTC" -> "regtest"
}

// Address is the deposit address of (currency, account, index).
func (k SeedKeys) Address(currency string, account, index uint32) (string, error) {
	network, ok := k.Networks[currency]
	if !ok {
		return "", fmt.Errorf("%s is not configured on this sluice", currency)
	}
	return k.Seed.Address(keys.Currency(currency), network, account, index)
}
