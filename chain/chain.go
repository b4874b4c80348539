package chain

import (
	"fmt"
	"maps"
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
// named like a built-in (USDT, USDC) keeps the built-in's key branch and
// minimum, with the contract and decimals the configuration gives and its
// confirmations and rate id unless the configuration sets them; any other
// token is taken with the key branch the configuration gives it (see
// config.Token). A token that cannot be taken is an error, returned with the
// registry of everything else (config.Load refuses such a configuration
// through Check, so a running process never sees one).
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
		native, _ := byCode(known, ch.Native)
		if e := cfg.Chains.EVMChain(ch.Key); e != nil && e.Confirmations > 0 {
			native.Confirmations = e.Confirmations
		}
		r.currencies = append(r.currencies, native)
		if ch.Key != "eth" {
			continue
		}
		// a branch is the configured currency's that holds it, or a
		// built-in's even when that one is not configured: wallets of it
		// may be in the ledger, and a second currency on its keys would
		// share their addresses
		branches := map[uint32]string{native.KeyBranch: native.Code}
		for i, t := range cfg.Chains.ETH.Tokens {
			c, p := token(known, ch, native, t, fmt.Sprintf("chains.eth.tokens[%d]", i), branches)
			if p != nil {
				ps = append(ps, *p)
				continue
			}
			if c.Code == "" {
				continue
			}
			branches[c.KeyBranch] = c.Code
			r.currencies = append(r.currencies, c)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(cfg.Chains.EVM)) {
		e := cfg.Chains.EVM[key]
		if !e.IsEnabled() || e.Native == nil {
			continue // validation names a section without its coin
		}
		cs, tps := evmChain(known, key, e)
		ps = append(ps, tps...)
		r.chains = append(r.chains, Chain{Key: key, Family: EVM, Network: e.Network, Native: cs[0].Code})
		r.currencies = append(r.currencies, cs...)
	}
	return r, ps
}

// evmChain is the currencies of a chains.evm section: its coin, then its
// tokens, each coded SYMBOL_KEY (POL_POLYGON, USDT_POLYGON), so no code is
// shared with Ethereum's or another chain's. A token named like a built-in
// (USDT, USDC) keeps the built-in's key branch and rate id.
func evmChain(known []Currency, key string, e *config.Ethereum) ([]Currency, []config.Problem) {
	suffix := "_" + strings.ToUpper(key)
	confs := e.Confirmations
	if confs <= 0 {
		confs = defaultEVMConfirmations
	}
	rate := e.Native.RateID
	if rate == "" {
		rate = e.Native.Symbol
	}
	minimum := "0.0001"
	if e.Native.Decimals < 4 {
		minimum = "1"
	}
	native := Currency{Code: e.Native.Symbol, Chain: key, Family: EVM, Decimals: e.Native.Decimals, Confirmations: confs,
		RateID: rate, Minimum: minimum}
	// the built-in tokens as they would be on this chain, for their branches and rate ids
	local := []Currency{native}
	for _, c := range known {
		if c.IsToken() {
			c.Chain, c.Confirmations = key, confs
			local = append(local, c)
		}
	}
	ch := Chain{Key: key, Family: EVM, Network: e.Network, Native: native.Code}
	out := []Currency{native}
	var ps []config.Problem
	branches := map[uint32]string{0: native.Code}
	for i, t := range e.Tokens {
		c, p := token(local, ch, native, t, fmt.Sprintf("chains.evm.%s.tokens[%d]", key, i), branches)
		if p != nil {
			ps = append(ps, *p)
			continue
		}
		if c.Code == "" {
			continue
		}
		branches[c.KeyBranch] = c.Code
		out = append(out, c)
	}
	for i := range out {
		out[i].Code += suffix
	}
	return out, ps
}

// token makes the currency of the token t configured on chain ch (whose
// coin is native) at key; taken are the key branches of the chain's
// currencies so far. A zero Currency and no problem: leave it out
// (validation names it).
func token(known []Currency, ch Chain, native Currency, t config.Token, key string, taken map[uint32]string) (Currency, *config.Problem) {
	problem := func(field, format string, args ...any) (Currency, *config.Problem) {
		p := config.NewProblem(key+"."+field, fmt.Errorf(format, args...))
		return Currency{}, &p
	}
	if t.Symbol == native.Code {
		return Currency{}, nil // validation names the coin listed as a token
	}
	c, builtinToken := byCode(known, t.Symbol)
	var branch uint32
	switch {
	case builtinToken && (c.Chain != ch.Key || !c.IsToken()):
		return problem("symbol", "%s is the code of %s's own coin, not a token: give this token another symbol", t.Symbol, c.Chain)
	case builtinToken:
		if t.KeyBranch != nil && *t.KeyBranch != int64(c.KeyBranch) {
			return problem("key_branch", "%d: %s's deposit keys are on branch %d, which a configuration cannot change "+
				"(another branch would move every %s deposit address); remove key_branch or set %d", *t.KeyBranch, c.Code, c.KeyBranch, c.Code, c.KeyBranch)
		}
		branch = c.KeyBranch
	default:
		if t.KeyBranch == nil {
			return problem("key_branch", "missing: %s is not a built-in token (%s), so its deposit keys need a branch of their own, "+
				"fixed forever: e.g. key_branch: %d (3 or above, one per token)", t.Symbol, strings.Join(knownTokens(known, ch.Key), ", "), freeBranch(known, ch.Key, taken))
		}
		b := *t.KeyBranch
		if b < 0 || b >= 1<<31 {
			return problem("key_branch", "%d is not a deposit key branch: from %d to 2147483647 (2^31-1; hardened indexes are not branches)", b, firstFreeBranch(known, ch.Key))
		}
		branch = uint32(b)
		if code, ok := builtinBranch(known, ch.Key, branch); ok {
			return problem("key_branch", "%d is %s's branch (0 to %d are the built-in currencies', configured or not): e.g. key_branch: %d",
				b, code, firstFreeBranch(known, ch.Key)-1, freeBranch(known, ch.Key, taken))
		}
		c = Currency{Code: t.Symbol, Chain: ch.Key, Family: ch.Family, Confirmations: native.Confirmations,
			RateID: t.Symbol, Minimum: defaultTokenMinimum, KeyBranch: branch}
	}
	if other, ok := taken[branch]; ok {
		return problem("key_branch", "%s and %s would share deposit keys (branch %d): give each token its own", other, c.Code, branch)
	}
	c.Contract, c.Decimals = strings.ToLower(t.Address), t.Decimals
	if t.Confirmations > 0 {
		c.Confirmations = t.Confirmations
	}
	if t.RateID != "" {
		c.RateID = t.RateID
	}
	return c, nil
}

func byCode(cs []Currency, code string) (Currency, bool) {
	i := slices.IndexFunc(cs, func(c Currency) bool { return c.Code == code })
	if i < 0 {
		return Currency{}, false
	}
	return cs[i], true
}

// builtinBranch names the built-in currency of chain whose keys are on branch.
func builtinBranch(known []Currency, chain string, branch uint32) (string, bool) {
	for _, c := range known {
		if c.Chain == chain && c.KeyBranch == branch {
			return c.Code, true
		}
	}
	return "", false
}

// firstFreeBranch is the lowest branch above every built-in's of chain.
func firstFreeBranch(known []Currency, chain string) int64 {
	var n int64
	for _, c := range known {
		if c.Chain == chain {
			n = max(n, int64(c.KeyBranch)+1)
		}
	}
	return n
}

// freeBranch suggests a branch no built-in and no configured token of
// chain has.
func freeBranch(known []Currency, chain string, taken map[uint32]string) int64 {
	b := firstFreeBranch(known, chain)
	for {
		if _, ok := taken[uint32(b)]; !ok {
			return b
		}
		b++
	}
}

func knownTokens(cs []Currency, chain string) []string {
	var out []string
	for _, c := range cs {
		if c.IsToken() && c.Chain == chain {
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

// FamilyOf is the family of the chain of key. Bitcoin-family chains each
// need their own network parameters in code (indexer/bitcoin), so they are
// the built-in ones (btc, ltc); every other chain is configured and EVM.
// Code below the registry (the watch set, the index, the ledger checks)
// asks this instead of comparing chain names.
func FamilyOf(key string) Family {
	for _, c := range builtinChains() {
		if c.Key == key {
			return c.Family
		}
	}
	return EVM
}

// Tokens maps the lower-case contract of each token configured on chain
// key to its currency code, the form the EVM decoder reports transfers in.
func (r *Registry) Tokens(key string) map[string]string {
	out := map[string]string{}
	for _, c := range r.currencies {
		if c.Chain == key && c.IsToken() {
			out[c.Contract] = c.Code
		}
	}
	return out
}

// Lookup is the currency of code as this process knows it: the configured
// one, else the built-in (amounts of a currency no longer configured stay
// in the ledger and are still printed). A nil Registry knows the built-ins.
func (r *Registry) Lookup(code string) (Currency, bool) {
	if r != nil {
		if c, ok := r.Currency(code); ok {
			return c, true
		}
	}
	return Builtin(code)
}

// DecimalsOf is Lookup's decimals (0 and false for an unknown code).
func (r *Registry) DecimalsOf(code string) (int, bool) {
	c, ok := r.Lookup(code)
	return c.Decimals, ok
}

// FeeOf is the coin that pays the fees of code's transactions (its chain's
// own), as Lookup knows them.
func (r *Registry) FeeOf(code string) (Currency, bool) {
	if r != nil {
		if c, ok := r.FeeCurrency(code); ok {
			return c, true
		}
	}
	c, ok := Builtin(code)
	if !ok {
		return Currency{}, false
	}
	for _, ch := range builtinChains() {
		if ch.Key == c.Chain {
			return Builtin(ch.Native)
		}
	}
	return Currency{}, false
}

// NativeOf is the code of chain key's own coin ("" for an unknown chain),
// as the registry knows it; a nil Registry knows the built-in chains.
func (r *Registry) NativeOf(key string) string {
	if r != nil {
		if c, ok := r.Chain(key); ok {
			return c.Native
		}
	}
	for _, c := range builtinChains() {
		if c.Key == key {
			return c.Native
		}
	}
	return ""
}
