package chain

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicepay/sluice/config"
)

// Family is a kind of chain: the code that follows, matches, signs and
// sweeps one chain of a family serves every chain of it.
type Family string

// The families.
const (
	Bitcoin Family = "bitcoin" // UTXO chains: BTC, LTC
	EVM     Family = "evm"     // account chains with ERC-20 tokens: Ethereum
)

// Chain is one followed chain.
type Chain struct {
	Key     string // the config key, and the chain's name in the ledger, the index, streams and the watch set
	Family  Family
	Network string // as configured: mainnet, regtest, dev...
	Native  string // the code of its own coin, which pays its fees and gas
}

// Currency is what merchants are paid in.
type Currency struct {
	Code          string // what merchants and the API call it: BTC, USDT
	Chain         string // Chain.Key
	Family        Family
	Decimals      int
	Confirmations int    // a deposit is confirmed at this depth unless its merchant says otherwise
	Contract      string // an ERC-20 token's contract, lower case; "" for a chain's own coin
	RateID        string // the ticker fiat rates are asked for
	Minimum       string // the smallest withdrawal, an exact decimal
	KeyBranch     uint32 // BIP44 change level of its deposit keys (EVM: one per currency of a chain)
}

// IsToken tells a token from a chain's own coin.
func (c Currency) IsToken() bool { return c.Contract != "" }

// Registry holds the configured chains and currencies; read-only once made.
type Registry struct {
	chains     []Chain
	currencies []Currency
}

// New builds the registry of the chains and tokens cfg enables. A token
// named like a built-in (USDT, USDC) keeps the built-in's confirmations,
// rate id, minimum and key branch, with the contract and decimals the
// configuration gives; a token sluice has no properties for is an error,
// returned with the registry of everything else (config.Load refuses such
// a configuration through Check, so a running process never sees one).
func New(cfg *config.Config) (*Registry, error) {
	r, ps := build(cfg)
	if len(ps) > 0 {
		return r, fmt.Errorf("%s: %s", ps[0].Key, ps[0].Msg)
	}
	return r, nil
}

// build is New, reporting each token it cannot take as a problem at the
// token's key and leaving it out.
func build(cfg *config.Config) (*Registry, []config.Problem) {
	known := builtin()
	byCode := func(code string) (Currency, bool) {
		i := slices.IndexFunc(known, func(c Currency) bool { return c.Code == code })
		if i < 0 {
			return Currency{}, false
		}
		return known[i], true
	}
	r := &Registry{}
	var ps []config.Problem
	for _, ch := range builtinChains() {
		switch ch.Key {
		case "btc", "ltc":
			b := cfg.Chains.BTC
			if ch.Key == "ltc" {
				b = cfg.Chains.LTC
			}
			if !b.IsEnabled() {
				continue
			}
			ch.Network = b.Network
		case "eth":
			if !cfg.Chains.ETH.IsEnabled() {
				continue
			}
			ch.Network = cfg.Chains.ETH.Network
		}
		r.chains = append(r.chains, ch)
		native, _ := byCode(ch.Native)
		r.currencies = append(r.currencies, native)
		if ch.Key != "eth" {
			continue
		}
		branches := map[uint32]string{native.KeyBranch: native.Code}
		for i, t := range cfg.Chains.ETH.Tokens {
			key := fmt.Sprintf("chains.eth.tokens[%d].symbol", i)
			c, ok := byCode(t.Symbol)
			if !ok || c.Chain != ch.Key || !c.IsToken() {
				if t.Symbol != native.Code { // validation names the coin listed as a token
					ps = append(ps, config.NewProblem(key, fmt.Errorf("%s: sluice takes the tokens %s on Ethereum", t.Symbol, strings.Join(knownTokens(known), ", "))))
				}
				continue
			}
			c.Contract, c.Decimals = strings.ToLower(t.Address), t.Decimals
			if other, taken := branches[c.KeyBranch]; taken {
				ps = append(ps, config.NewProblem(key, fmt.Errorf("%s and %s would share deposit keys (branch %d)", other, c.Code, c.KeyBranch)))
				continue
			}
			branches[c.KeyBranch] = c.Code
			r.currencies = append(r.currencies, c)
		}
	}
	return r, ps
}

func knownTokens(cs []Currency) []string {
	var out []string
	for _, c := range cs {
		if c.IsToken() {
			out = append(out, c.Code)
		}
	}
	return out
}

// Currency returns the configured currency of code.
func (r *Registry) Currency(code string) (Currency, bool) {
	i := slices.IndexFunc(r.currencies, func(c Currency) bool { return c.Code == code })
	if i < 0 {
		return Currency{}, false
	}
	return r.currencies[i], true
}

// Currencies lists the configured currencies, each chain's coin before its tokens.
func (r *Registry) Currencies() []Currency { return slices.Clone(r.currencies) }

// Codes lists the configured currency codes in the order of Currencies.
func (r *Registry) Codes() []string {
	out := make([]string, len(r.currencies))
	for i, c := range r.currencies {
		out[i] = c.Code
	}
	return out
}

// Chain returns the configured chain of key.
func (r *Registry) Chain(key string) (Chain, bool) {
	i := slices.IndexFunc(r.chains, func(c Chain) bool { return c.Key == key })
	if i < 0 {
		return Chain{}, false
	}
	return r.chains[i], true
}

// Chains lists the configured chains, of the given families only when any
// are named.
func (r *Registry) Chains(families ...Family) []Chain {
	var out []Chain
	for _, c := range r.chains {
		if len(families) == 0 || slices.Contains(families, c.Family) {
			out = append(out, c)
		}
	}
	return out
}

// OnChain lists the currencies of chain key, its coin first.
func (r *Registry) OnChain(key string) []Currency {
	var out []Currency
	for _, c := range r.currencies {
		if c.Chain == key {
			out = append(out, c)
		}
	}
	return out
}

// FeeCurrency is the coin that pays the fees of code's transactions: the
// chain's own coin (a token's gas is paid in ETH).
func (r *Registry) FeeCurrency(code string) (Currency, bool) {
	c, ok := r.Currency(code)
	if !ok {
		return Currency{}, false
	}
	ch, ok := r.Chain(c.Chain)
	if !ok {
		return Currency{}, false
	}
	return r.Currency(ch.Native)
}

// Builtin returns the built-in currency of code, as sluice knows it where
// no configuration is at hand (amounts already in the ledger, tests): its
// chain, decimals and defaults. Configured currencies are Registry.Currency.
func Builtin(code string) (Currency, bool) {
	for _, c := range builtin() {
		if c.Code == code {
			return c, true
		}
	}
	return Currency{}, false
}

// Decimals of a built-in currency (0 and false for an unknown code).
func Decimals(code string) (int, bool) {
	c, ok := Builtin(code)
	return c.Decimals, ok
}
