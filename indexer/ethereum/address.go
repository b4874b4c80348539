package ethereum

import (
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// ValidateAddress checks an Ethereum address: 0x and 40 hex digits; a
// mixed-case one must carry a valid EIP-55 checksum; never the zero address.
func ValidateAddress(addr string) error {
	h, ok := strings.CutPrefix(addr, "0x")
	if !ok {
		h, ok = strings.CutPrefix(addr, "0X")
	}
	if !ok || len(h) != 40 || !common.IsHexAddress(addr) {
		return fmt.Errorf("%q is not an Ethereum address: want 0x and 40 hex digits", addr)
	}
	if h != strings.ToLower(h) && h != strings.ToUpper(h) && common.HexToAddress(addr).Hex()[2:] != h {
		return fmt.Errorf("%q: the EIP-55 checksum of this mixed-case address does not match (a typo?); check it, or write it all in lower case to skip the check", addr)
	}
	if common.HexToAddress(addr) == (common.Address{}) {
		return fmt.Errorf("%q is the zero address: coins sent there are burnt", addr)
	}
	return nil
}
