package ethereum

import (
	"errors"
	"math/big"
	"strings"
	"testing"
)

func TestParseUint64(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr string
	}{
		{"0x0", 0, ""},
		{"0x00", 0, ""}, // leading zeros: geth never sends them, others might
		{"0x1aB", 0x1ab, ""},
		{"0xffffffffffffffff", 1<<64 - 1, ""},
		{"0x000000000000000000ffffffffffffffff", 1<<64 - 1, ""},
		{"0x10000000000000000", 0, "does not fit in 64 bits"},
		{"", 0, "missing"},
		{"0x", 0, "no digits"},
		{"12", 0, "does not start with 0x"},
		{"0X12", 0, "does not start with 0x"},
		{"0x1g", 0, "is not hex"},
		{"0x-1", 0, "is not hex"},
		{"0x 1", 0, "is not hex"},
		{"0x1_0", 0, "is not hex"},
	}
	for _, tt := range tests {
		got, err := parseUint64(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseUint64(%q) = %d, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseUint64(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	if _, err := parseUint64(""); !errors.Is(err, errMissing) {
		t.Errorf("empty: %v is not errMissing", err)
	}
}

func TestParseBig(t *testing.T) {
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	tests := []struct {
		in      string
		want    *big.Int
		wantErr string
	}{
		{"0x0", big.NewInt(0), ""},
		{"0xde0b6b3a7640000", big.NewInt(1e18), ""},
		{"0xFFFFFFFFFFFFFFFF", new(big.Int).SetUint64(1<<64 - 1), ""},
		{"0x10000000000000000", new(big.Int).Lsh(big.NewInt(1), 64), ""},
		{"0x" + strings.Repeat("f", 64), max, ""},
		{"0x00" + strings.Repeat("f", 64), max, ""},
		{"0x1" + strings.Repeat("0", 64), nil, "does not fit in 256 bits"},
		{"0x1" + strings.Repeat("0", 75), nil, "does not fit in 256 bits"}, // 2^300
		{"0x-1", nil, "is not hex"},
		{"0x+1", nil, "is not hex"},
		{"1000", nil, "does not start with 0x"},
		{"", nil, "missing"},
	}
	for _, tt := range tests {
		got, err := parseBig(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseBig(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Cmp(tt.want) != 0 {
			t.Errorf("parseBig(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseFixed(t *testing.T) {
	h := "0x" + strings.Repeat("Ab", 32)
	if got, err := parseHash(h); err != nil || got != strings.ToLower(h) {
		t.Errorf("parseHash(%s) = %s, %v", h, got, err)
	}
	for _, bad := range []string{"0x" + strings.Repeat("ab", 31), "0x" + strings.Repeat("ab", 33), strings.Repeat("ab", 33), "0x" + strings.Repeat("zz", 32)} {
		if _, err := parseHash(bad); err == nil {
			t.Errorf("parseHash(%s): no error", bad)
		}
	}
	if got, err := parseOptAddress(""); err != nil || got != "" {
		t.Errorf("parseOptAddress(\"\") = %q, %v", got, err)
	}
	if _, err := parseAddress(""); !errors.Is(err, errMissing) {
		t.Errorf("parseAddress(\"\"): %v", err)
	}
	if got, err := checkData("0xABcd"); err != nil || got != "0xabcd" {
		t.Errorf("checkData = %q, %v", got, err)
	}
	if got, err := parseData("0x"); err != nil || len(got) != 0 {
		t.Errorf("parseData(0x) = %x, %v", got, err)
	}
	long := "0x" + strings.Repeat("z", 1<<20)
	if _, err := parseData(long); err == nil || len(err.Error()) > 200 {
		t.Errorf("a megabyte of garbage gave a %d-byte error", len(err.Error()))
	}
}
