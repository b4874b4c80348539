package contracts

import (
	"encoding/json"
	"testing"
)

func TestGet(t *testing.T) {
	for _, name := range []string{TetherToken, USDCToken, Forwarder} {
		a, err := Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Bin) < 100 {
			t.Errorf("%s: %d bytes of bytecode", name, len(a.Bin))
		}
		var abi []map[string]any
		if err := json.Unmarshal(a.ABI, &abi); err != nil || len(abi) == 0 {
			t.Errorf("%s: ABI is not a JSON array: %v", name, err)
		}
	}
	if _, err := Get("Nope"); err == nil {
		t.Error("Get(Nope) succeeded")
	}
}
