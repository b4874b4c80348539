package ethereum

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// The parsers below read the hex strings of geth's JSON-RPC answers. They
// are stricter than hexutil about what a value may be (a quantity fits in
// 256 bits, a hash has exactly 32 bytes) and laxer about what geth itself
// never sends (leading zeros, upper-case digits), so that an answer from
// another client still decodes when it means the same thing.

// errMissing is returned for an empty string: the field was absent or null.
var errMissing = errors.New("missing")

// quote shows s in an error, cut short so a megabyte of garbage does not
// become a megabyte of error message.
func quote(s string) string {
	const max = 70
	if len(s) > max {
		return fmt.Sprintf("%q... (%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// hexDigits returns the digits after "0x", checked to be hex.
func hexDigits(s string) (string, error) {
	if s == "" {
		return "", errMissing
	}
	if len(s) < 2 || s[0] != '0' || s[1] != 'x' {
		return "", fmt.Errorf("%s does not start with 0x", quote(s))
	}
	d := s[2:]
	for i := 0; i < len(d); i++ {
		if !isHexDigit(d[i]) {
			return "", fmt.Errorf("%s is not hex", quote(s))
		}
	}
	return d, nil
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// quantityDigits returns the significant digits of a hex quantity, at most
// maxDigits of them.
func quantityDigits(s string, maxDigits int, what string) (string, error) {
	d, err := hexDigits(s)
	if err != nil {
		return "", err
	}
	if d == "" {
		return "", fmt.Errorf("%s has no digits", quote(s))
	}
	d = strings.TrimLeft(d, "0")
	if len(d) > maxDigits {
		return "", fmt.Errorf("%s does not fit in %s", quote(s), what)
	}
	return d, nil
}

// parseUint64 reads a hex quantity that must fit 64 bits.
func parseUint64(s string) (uint64, error) {
	d, err := quantityDigits(s, 16, "64 bits")
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := 0; i < len(d); i++ {
		v = v<<4 | uint64(unhex(d[i]))
	}
	return v, nil
}

// parseBig reads a hex quantity that must fit 256 bits, the EVM word: a
// larger wei or token amount cannot exist on chain.
func parseBig(s string) (*big.Int, error) {
	d, err := quantityDigits(s, 64, "256 bits")
	if err != nil {
		return nil, err
	}
	v := new(big.Int)
	if len(d) <= 16 {
		var u uint64
		for i := 0; i < len(d); i++ {
			u = u<<4 | uint64(unhex(d[i]))
		}
		return v.SetUint64(u), nil
	}
	// d holds hex digits only (checked above), which SetString cannot
	// mistake for a sign or an underscore.
	if _, ok := v.SetString(d, 16); !ok {
		return nil, fmt.Errorf("%s is not a hex quantity", quote(s))
	}
	return v, nil
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// parseFixed reads 0x-prefixed hex of exactly n bytes, returned lower-case.
func parseFixed(s string, n int, what string) (string, error) {
	d, err := hexDigits(s)
	if err != nil {
		return "", err
	}
	if len(d) != 2*n {
		return "", fmt.Errorf("%s is not %s (%d hex digits, want %d)", quote(s), what, len(d), 2*n)
	}
	return strings.ToLower(s), nil
}

// parseHash reads a 32-byte hash (block, tx, topic).
func parseHash(s string) (string, error) { return parseFixed(s, 32, "a 32-byte hash") }

// parseAddress reads a 20-byte address.
func parseAddress(s string) (string, error) { return parseFixed(s, 20, "a 20-byte address") }

// parseOptAddress reads an address that may be null ("" then).
func parseOptAddress(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	return parseAddress(s)
}

// checkData validates 0x-prefixed hex bytes and returns them lower-case,
// still as hex.
func checkData(s string) (string, error) {
	d, err := hexDigits(s)
	if err != nil {
		return "", err
	}
	if len(d)%2 != 0 {
		return "", fmt.Errorf("%s has an odd number of hex digits", quote(s))
	}
	return strings.ToLower(s), nil
}

// parseData reads 0x-prefixed hex bytes.
func parseData(s string) ([]byte, error) {
	d, err := hexDigits(s)
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(d)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", quote(s), err)
	}
	return b, nil
}
