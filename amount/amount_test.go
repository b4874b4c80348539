package amount

import (
	"errors"
	"math/big"
	"testing"
)

func TestFormatExamples(t *testing.T) {
	wei, _ := new(big.Int).SetString("1000000000000000000", 10)
	huge, _ := new(big.Int).SetString("115792089237316195423570985008687907853269984665640564039457584007913129639935", 10)
	for _, c := range []struct {
		v    *big.Int
		dec  int
		want string
	}{
		{big.NewInt(1124), 8, "0.00001124"},
		{big.NewInt(100_000_000), 8, "1"},
		{big.NewInt(25_500_000), 6, "25.5"},
		{big.NewInt(0), 8, "0"},
		{big.NewInt(1), 18, "0.000000000000000001"},
		{wei, 18, "1"},
		{big.NewInt(-150), 2, "-1.5"},
		{big.NewInt(42), 0, "42"},
		{huge, 18, "115792089237316195423570985008687907853269984665640564039457.584007913129639935"},
	} {
		if got := Format(c.v, c.dec); got != c.want {
			t.Errorf("Format(%s, %d) = %s, want %s", c.v, c.dec, got, c.want)
		}
	}
	if _, err := FormatString("12x", 8); err == nil {
		t.Error("FormatString took garbage")
	}
}

func TestParseExamples(t *testing.T) {
	for _, c := range []struct {
		s    string
		dec  int
		want string
	}{
		{"0.00001124", 8, "1124"}, {"1", 8, "100000000"}, {"25.5", 6, "25500000"},
		{"0", 8, "0"}, {"1.000000000000000001", 18, "1000000000000000001"}, {"007", 0, "7"},
	} {
		v, err := Parse(c.s, c.dec)
		if err != nil || v.String() != c.want {
			t.Errorf("Parse(%q, %d) = %v, %v; want %s", c.s, c.dec, v, err, c.want)
		}
	}
	for _, bad := range []string{"", ".", "1.", "-1", "+1", "1e5", "1,5", "0x10", "1.2.3", " 1", "NaN"} {
		if _, err := Parse(bad, 8); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	if _, err := Parse("0.000000001", 8); !errors.Is(err, ErrTooPrecise) {
		t.Errorf("9 decimals for BTC: %v", err)
	}
	// round trip
	for _, s := range []string{"0.00001124", "21000000", "0.1", "123.456"} {
		v, _ := Parse(s, 8)
		if got := Format(v, 8); got != s {
			t.Errorf("round trip %s → %s", s, got)
		}
	}
}
