package merchant

import (
	"fmt"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/chain"
)

// ParseWebhooks builds the endpoint per kind from one URL and method for
// every kind, overridden per kind by "KIND=METHOD:URL" (or "KIND=URL").
func ParseWebhooks(url, method string, overrides []string) (map[string]Endpoint, error) {
	out := map[string]Endpoint{}
	if url != "" {
		for _, k := range Kinds {
			out[k] = Endpoint{Method: strings.ToUpper(method), URL: url}
		}
	}
	for _, o := range overrides {
		kind, rest, ok := strings.Cut(o, "=")
		if !ok || rest == "" {
			return nil, fmt.Errorf("webhook %q: write EVENT=METHOD:URL, e.g. confirmed=POST:https://shop.example/paid", o)
		}
		e := Endpoint{Method: strings.ToUpper(method), URL: rest}
		if m, u, ok := strings.Cut(rest, ":"); ok && contains(Methods, strings.ToUpper(m)) {
			e = Endpoint{Method: strings.ToUpper(m), URL: u}
		}
		out[kind] = e
	}
	return out, nil
}

// ParseConfirmations reads "CUR=N" overrides.
func ParseConfirmations(pairs []string) (map[string]int, error) {
	out := map[string]int{}
	for _, p := range pairs {
		cur, n, ok := strings.Cut(p, "=")
		v, err := strconv.Atoi(n)
		if !ok || err != nil {
			return nil, fmt.Errorf("confirmations %q: write CURRENCY=N, e.g. BTC=3", p)
		}
		out[strings.ToUpper(cur)] = v
	}
	return out, nil
}

// ParseNetworks reads CIDRs or single IPs a key may be used from.
func ParseNetworks(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p)
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR (10.0.0.0/8) nor an IP", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// ParseExpiry reads an expiry as a duration from now ("720h") or an
// RFC 3339 time; "" means never.
func ParseExpiry(s string, now time.Time) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		t := now.Add(d)
		return &t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, fmt.Errorf("expiry %q: a duration (720h) or a time (2027-01-31T00:00:00Z)", s)
	}
	return &t, nil
}

// SettlementFlags are the per-currency settlement options of the CLI, each
// a list of CURRENCY=VALUE.
type SettlementFlags struct {
	Settle, Fee, FeeFixed, FeeMin, BatchWindow, MinSweep []string
	// Chains are the currencies the flags may name, with their decimals;
	// nil: the built-ins.
	Chains *chain.Registry
}

// Changes reads the flags into a change per currency. Amounts are exact
// decimals in the currency (0.001 BTC), the fee a percent (1.5).
func (f SettlementFlags) Changes() (map[string]SettlementChange, error) {
	out := map[string]SettlementChange{}
	each := func(flag string, list []string, set func(cur, v string, c *SettlementChange) error) error {
		for _, kv := range list {
			cur, v, ok := strings.Cut(kv, "=")
			cur = strings.ToUpper(strings.TrimSpace(cur))
			if _, known := f.Chains.Lookup(cur); !ok || !known {
				return fmt.Errorf("--%s %q: write CURRENCY=VALUE with a configured currency (BTC, USDT, ...)", flag, kv)
			}
			c := out[cur]
			if err := set(cur, strings.TrimSpace(v), &c); err != nil {
				return fmt.Errorf("--%s %s: %w", flag, kv, err)
			}
			out[cur] = c
		}
		return nil
	}
	units := func(cur, v string) (*big.Int, error) {
		dec, _ := f.Chains.DecimalsOf(cur)
		return amount.Parse(v, dec)
	}
	steps := []struct {
		flag string
		list []string
		set  func(cur, v string, c *SettlementChange) error
	}{
		{"settle", f.Settle, func(_, v string, c *SettlementChange) error { c.Address = &v; return nil }},
		{"fee", f.Fee, func(_, v string, c *SettlementChange) error {
			frac, err := PercentToFraction(v)
			c.FeePercent = &frac
			return err
		}},
		{"fee-fixed", f.FeeFixed, func(cur, v string, c *SettlementChange) (err error) { c.FeeFixed, err = units(cur, v); return }},
		{"fee-min", f.FeeMin, func(cur, v string, c *SettlementChange) (err error) { c.FeeMin, err = units(cur, v); return }},
		{"min-sweep", f.MinSweep, func(cur, v string, c *SettlementChange) (err error) { c.MinAmount, err = units(cur, v); return }},
		{"batch-window", f.BatchWindow, func(_, v string, c *SettlementChange) error {
			d, err := time.ParseDuration(v)
			c.BatchWindow = &d
			return err
		}},
	}
	for _, s := range steps {
		if err := each(s.flag, s.list, s.set); err != nil {
			return nil, err
		}
	}
	return out, nil
}
