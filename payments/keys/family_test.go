package keys_test

import (
	"testing"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/payments/keys"
)

// The registry's families convert to keys' as keys.Family(f).
func TestFamiliesAreTheRegistrys(t *testing.T) {
	for _, c := range []struct {
		reg  chain.Family
		keys keys.Family
	}{{chain.Bitcoin, keys.Bitcoin}, {chain.EVM, keys.EVM}} {
		if keys.Family(c.reg) != c.keys {
			t.Errorf("chain family %q is keys family %q", c.reg, c.keys)
		}
	}
}
