package payments

import (
	"errors"
	"fmt"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/payments/keys"
)

// SeedKeys derives custodial deposit addresses from the master seed, for
// the network configured per currency.
type SeedKeys struct {
	Seed     keys.Seed
	Networks map[string]string // currency -> network, e.g. "BTC" -> "regtest"
	Chains   *chain.Registry   // each currency's chain and key branch; nil knows the built-ins
}

// Address is the deposit address of (currency, account, index), on the
// key branch the chain registry gives the currency.
func (k SeedKeys) Address(currency string, account, index uint32) (string, error) {
	sc, err := k.Scheme(currency)
	if err != nil {
		return "", err
	}
	return k.Seed.AddressFor(sc, account, index)
}

// Scheme is where currency's deposit keys live: its chain's family and
// network and its key branch.
func (k SeedKeys) Scheme(currency string) (keys.Scheme, error) {
	network, ok := k.Networks[currency]
	c, known := k.Chains.Lookup(currency)
	if !ok || !known {
		return keys.Scheme{}, fmt.Errorf("%s is not configured on this sluice", currency)
	}
	return keys.Scheme{Family: keys.Family(c.Family), Chain: c.Chain, Network: network, Branch: c.KeyBranch}, nil
}

// ErrNoSeed is returned for a custodial wallet when no master seed is
// configured.
var ErrNoSeed = errors.New("no master seed is configured: set payments.seed_file (SLUICE_SEED_FILE) to a file holding a BIP39 mnemonic or hex seed, mode 0600")

// NetworksFromConfig maps the configured currencies (the chain registry's:
// each enabled chain's coin and its configured tokens sluice knows) to the
// networks of their chains.
func NetworksFromConfig(cfg *config.Config) map[string]string {
	r, _ := chain.New(cfg) // a token it cannot take is config.Load's problem (chain.Check)
	n := map[string]string{}
	for _, c := range r.Currencies() {
		ch, _ := r.Chain(c.Chain)
		n[c.Code] = ch.Network
	}
	return n
}

// KeysFromConfig loads the master seed of payments.seed_file (with the
// passphrase of payments.seed_passphrase_file, if set) and binds it to the
// networks of NetworksFromConfig. With no seed file configured it returns
// nil and no error: the ledger then refuses custodial wallets (ErrNoSeed)
// and still makes watch-only ones. A file that is missing, unreadable,
// readable by others or not a seed is an error located at its key, as
// config.Load locates problems; no error quotes the file's content.
func KeysFromConfig(cfg *config.Config) (Deriver, error) {
	p := cfg.Payments
	if p.SeedFile == "" {
		return nil, nil
	}
	var passphrase string
	if p.SeedPassphraseFile != "" {
		var err error
		if passphrase, err = keys.LoadPassphrase(p.SeedPassphraseFile); err != nil {
			return nil, cfg.Errorf("payments.seed_passphrase_file", "%w", err)
		}
	}
	seed, err := keys.LoadSeedWithPassphrase(p.SeedFile, passphrase)
	if err != nil {
		return nil, cfg.Errorf("payments.seed_file", "%w", err)
	}
	reg, _ := chain.New(cfg) // config.Load refused a configuration it cannot build
	return SeedKeys{Seed: seed, Networks: NetworksFromConfig(cfg), Chains: reg}, nil
}
