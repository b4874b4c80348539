package devnet

import (
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	for _, c := range []struct {
		cur, in, want, err string
	}{
		{"BTC", "0.5", "50000000", ""},
		{"ltc", "1.23456789", "123456789", ""},
		{"eth", "0.000000000000000123", "123", ""},
		{"Usdt", "12.5", "12500000", ""},
		{"BTC", "0", "", `BTC amount "0" is zero`},
		{"USDT", "0.000000", "", "zero"},
		{"USDT", "0.0000001", "", "USDT amount: \"0.0000001\" has 7 decimal places: at most 6 are possible (the smallest amount is 0.000001): more decimals than the currency has"},
		{"ETH", "-1", "", "ETH amount: \"-1\" is negative"},
	} {
		cur, err := LookupCurrency(c.cur)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cur.ParseAmount(c.in)
		if c.want == "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s %q: err %v, want %q", c.cur, c.in, err, c.err)
			}
			continue
		}
		if err != nil || got.String() != c.want {
			t.Errorf("%s %q = %v, %v; want %s", c.cur, c.in, got, err, c.want)
		}
	}
	if _, err := LookupCurrency("DOGE"); err == nil || !strings.Contains(err.Error(), "BTC, LTC, ETH, USDT") {
		t.Errorf("LookupCurrency(DOGE): %v", err)
	}
}
