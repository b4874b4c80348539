package store

import (
	"context"
	"fmt"
	"strings"

	chainreg "github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/stores"
)

// UsedAddresses returns which of addrs the chain index shows any history
// of: an output paying it (btc, ltc), or ETH, a token or an internal transfer
// from or to it (eth), in any block, orphaned ones included (an orphaned
// payment may come back). The result is keyed by the addresses as given.
// One query on an address-ordered table; a deposit address must have none
// before it is handed out.
func UsedAddresses(ctx context.Context, ch *stores.ClickHouse, chain string, addrs []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(addrs) == 0 {
		return out, nil
	}
	byKey := make(map[string][]string, len(addrs))
	quoted := make([]string, 0, len(addrs))
	for _, a := range addrs {
		k := a
		if chainreg.FamilyOf(chain) == chainreg.EVM {
			k = strings.ToLower(a)
		}
		// addresses are letters and digits only, checked here, so quoting is safe
		for _, r := range k {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return nil, fmt.Errorf("address %q has characters no address has", a)
			}
		}
		if _, dup := byKey[k]; !dup {
			quoted = append(quoted, "'"+k+"'")
		}
		byKey[k] = append(byKey[k], a)
	}
	table := "address_outputs"
	if chainreg.FamilyOf(chain) == chainreg.EVM {
		table = "eth_address_transfers"
	}
	// An IN list of literals lets ClickHouse use the (chain, address) key.
	rows, err := ch.Query(ctx, "SELECT DISTINCT address FROM "+table+" WHERE chain = ? AND address IN ("+strings.Join(quoted, ",")+")", chain)
	if err != nil {
		return nil, fmt.Errorf("look up %d %s addresses in %s: %w", len(addrs), chain, table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("look up %s addresses in %s: %w", chain, table, err)
		}
		for _, a := range byKey[k] {
			out[a] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up %s addresses in %s: %w", chain, table, err)
	}
	return out, nil
}
