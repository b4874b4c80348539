package main

import (
	"fmt"
	"strings"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
)

// chainsToRun resolves a command's --chain list against the configured
// chains (all of them when the list is empty, in the registry's order): the
// one place a command learns which chains to work on.
func chainsToRun(cfg *config.Config, flag []string, families ...chain.Family) ([]chain.Chain, *chain.Registry, error) {
	reg, err := chain.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	configured := reg.Chains(families...)
	if len(flag) == 0 {
		if len(configured) == 0 {
			return nil, nil, fmt.Errorf("no chain configured: configure chains.btc, chains.ltc or chains.eth (or SLUICE_BTC_RPC, SLUICE_LTC_RPC, SLUICE_ETH_WS)")
		}
		return configured, reg, nil
	}
	var out []chain.Chain
	for _, key := range flag {
		c, ok := reg.Chain(key)
		if !ok || (len(families) > 0 && !familyIn(c.Family, families)) {
			return nil, nil, fmt.Errorf("--chain %s: not a configured chain this command runs (configured: %s)", key, strings.Join(chainKeys(configured), ", "))
		}
		out = append(out, c)
	}
	return out, reg, nil
}

func familyIn(f chain.Family, fs []chain.Family) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}

// chainKeys are the keys of cs.
func chainKeys(cs []chain.Chain) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Key
	}
	return out
}
