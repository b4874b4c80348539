package sweep

import (
	"math/big"
	"testing"
)

func TestServiceFee(t *testing.T) {
	for _, c := range []struct {
		gross, percent, fixed, min, want string
	}{
		{"100000000", "0.0100", "0", "0", "1000000"}, // 1%
		{"100000000", "0", "0", "0", "0"},            // none
		{"12345", "0.0100", "0", "0", "123"},         // rounded down to the base unit
		{"12345", "0.0100", "1000", "0", "1123"},     // percent + fixed
		{"12345", "0.0100", "0", "5000", "5000"},     // at least the minimum
		{"3000", "0.5000", "0", "5000", "3000"},      // never more than the amount
		{"1000000000000000000", "0.0025", "0", "0", "2500000000000000"},
	} {
		got := serviceFee(mustInt(c.gross), c.percent, mustInt(c.fixed), mustInt(c.min))
		if got.Cmp(mustInt(c.want)) != 0 {
			t.Errorf("serviceFee(%s, %s, %s, %s) = %s, want %s", c.gross, c.percent, c.fixed, c.min, got, c.want)
		}
	}
	if mustInt("garbage").Cmp(big.NewInt(0)) != 0 {
		t.Error("mustInt of garbage is not 0")
	}
}
