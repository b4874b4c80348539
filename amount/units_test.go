package amount

import (
	"math/big"
	"math/rand"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	max256, _ := new(big.Int).SetString(strings.Repeat("f", 64), 16)
	for _, c := range []struct {
		in   string
		dec  int
		want string // base units; "" for an error
		err  string // part of the error
	}{
		{"1", 8, "100000000", ""},
		{"0.5", 8, "50000000", ""},
		{"0.00000001", 8, "1", ""},
		{"21000000", 8, "2100000000000000", ""},
		{"007.10", 8, "710000000", ""},
		{"1.50000000000", 8, "150000000", ""}, // zeros past the 8th place change nothing
		{"0", 8, "0", ""},                     // Parse allows zero; Currency.ParseAmount does not
		{"1", 18, "1000000000000000000", ""},
		{"0.000000000000000001", 18, "1", ""},
		{Format(max256, 18), 18, max256.String(), ""},
		{"12.5", 6, "12500000", ""},
		{"3", 0, "3", ""},
		{"3.000", 0, "3", ""},

		{"", 8, "", "empty"},
		{"-1", 8, "", "negative"},
		{"-0.5", 8, "", "negative"},
		{"0.123456789", 8, "", "9 decimal places: at most 8"},
		{"1.0000000000000000001", 18, "", "19 decimal places: at most 18"},
		{"0.0000001", 6, "", "at most 6"},
		{"0.1", 0, "", "no decimal places"},
		{"+1", 8, "", "not a decimal number"},
		{"1e5", 8, "", "not a decimal number"},
		{"1E-8", 8, "", "not a decimal number"},
		{"1,5", 8, "", "not a decimal number"},
		{"1,000.5", 8, "", "not a decimal number"},
		{" 1", 8, "", "not a decimal number"},
		{"1 ", 8, "", "not a decimal number"},
		{"1\n", 8, "", "not a decimal number"},
		{".5", 8, "", "not a decimal number"},
		{"5.", 8, "", "not a decimal number"},
		{".", 8, "", "not a decimal number"},
		{"1.2.3", 8, "", "not a decimal number"},
		{"0x10", 8, "", "not a decimal number"},
		{"abc", 8, "", "not a decimal number"},
		{"NaN", 8, "", "not a decimal number"},
		{"Inf", 8, "", "not a decimal number"},
		{"１", 8, "", "not a decimal number"}, // a full-width digit
		{"٣", 8, "", "not a decimal number"}, // an Arabic-Indic digit
		{strings.Repeat("9", 101), 8, "", "characters long"},
	} {
		got, err := Parse(c.in, c.dec)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("Parse(%q, %d) = %s, want an error with %q", c.in, c.dec, got, c.err)
		case c.want == "" && !strings.Contains(err.Error(), c.err):
			t.Errorf("Parse(%q, %d): error %q, want it to say %q", c.in, c.dec, err, c.err)
		case c.want != "" && err != nil:
			t.Errorf("Parse(%q, %d): %v", c.in, c.dec, err)
		case c.want != "" && got.String() != c.want:
			t.Errorf("Parse(%q, %d) = %s, want %s", c.in, c.dec, got, c.want)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		v    *big.Int
		dec  int
		want string
	}{
		{big.NewInt(1), 8, "0.00000001"},
		{big.NewInt(150_000_000), 8, "1.5"},
		{big.NewInt(100_000_000), 8, "1"},
		{big.NewInt(12_345_678_901), 8, "123.45678901"},
		{big.NewInt(0), 8, "0"},
		{big.NewInt(123), 0, "123"},
		{big.NewInt(-5), 2, "-0.05"},
		{big.NewInt(10), 1, "1"},
		{nil, 8, "0"},
	} {
		if got := Format(c.v, c.dec); got != c.want {
			t.Errorf("Format(%v, %d) = %q, want %q", c.v, c.dec, got, c.want)
		}
	}
	// Round trip: every integer comes back exactly, at every precision.
	r := rand.New(rand.NewSource(1))
	for range 2000 {
		dec := r.Intn(30)
		v := new(big.Int).Rand(r, new(big.Int).Lsh(big.NewInt(1), uint(r.Intn(256)+1)))
		s := Format(v, dec)
		got, err := Parse(s, dec)
		if err != nil || got.Cmp(v) != 0 {
			t.Fatalf("Format(%s, %d) = %q, parsed back as %v, %v", v, dec, s, got, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1", "0.5", "-1", "1e5", "00.000100", ""} {
		f.Add(s, 8)
	}
	f.Fuzz(func(t *testing.T, s string, dec int) {
		dec = ((dec % 40) + 40) % 40
		v, err := Parse(s, dec)
		if err != nil {
			return
		}
		if v.Sign() < 0 {
			t.Fatalf("%q parsed as negative %s", s, v)
		}
		// What parses formats back to the same value.
		back, err := Parse(Format(v, dec), dec)
		if err != nil || back.Cmp(v) != 0 {
			t.Fatalf("%q -> %s -> %q -> %v, %v", s, v, Format(v, dec), back, err)
		}
	})
}
