package payments

import (
	"maps"
	"slices"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/indexer/bitcoin"
	"github.com/sluicepay/sluice/payments/keys"
)

// The checks of a configuration that need this package (config.Check):
// the commands run those they need at start, within config.Load, and
// "sluice config check" runs them all, so both report the same problems.

// CheckFeeAddresses checks that each of sweeps.fee_addresses can receive
// its currency on the network configured for it (a regtest bcrt1… address
// for BTC on regtest, 0x and 40 hex digits for ETH and tokens), as the
// sweepers pay service fees there. A currency this sluice does not take is
// skipped, and so is a chain whose network is unknown (validation names it).
func CheckFeeAddresses(cfg *config.Config) []config.Problem {
	nets := NetworksFromConfig(cfg)
	reg, _ := chain.New(cfg) // chain.Check reports what it cannot take
	var ps []config.Problem
	for _, cur := range slices.Sorted(maps.Keys(cfg.Sweeps.FeeAddresses)) {
		addr := cfg.Sweeps.FeeAddresses[cur]
		network, ok := nets[cur]
		if !ok || addr == "" {
			continue // a currency this sluice does not take, or no fee taken in it
		}
		c, _ := reg.Lookup(cur)
		if c.Family == chain.Bitcoin {
			if _, err := bitcoin.ParamsFor(c.Chain, network); err != nil {
				continue
			}
		}
		if err := ValidAddress(c.Chain, network, addr); err != nil {
			ps = append(ps, config.NewProblem("sweeps.fee_addresses."+cur, err))
		}
	}
	return ps
}

// CheckSeed reads payments.seed_file and payments.seed_passphrase_file as
// KeysFromConfig does and reports each one that is missing, readable by
// others or not a seed (or a passphrase); no problem quotes their content.
func CheckSeed(cfg *config.Config) []config.Problem {
	p := cfg.Payments
	if p.SeedFile == "" {
		return nil // validation reports a passphrase without a seed
	}
	var ps []config.Problem
	var passphrase string
	if p.SeedPassphraseFile != "" {
		var err error
		if passphrase, err = keys.LoadPassphrase(p.SeedPassphraseFile); err != nil {
			ps = append(ps, config.NewProblem("payments.seed_passphrase_file", err))
		}
	}
	// the seed file is checked whatever the passphrase's fate: a mnemonic
	// parses with any passphrase
	if _, err := keys.LoadSeedWithPassphrase(p.SeedFile, passphrase); err != nil {
		ps = append(ps, config.NewProblem("payments.seed_file", err))
	}
	return ps
}
