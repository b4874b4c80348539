package devnet

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
)

// Four-byte selectors (first bytes of keccak256 of the signature) of the calls
// this package makes; abi_test.go recomputes them and checks them against the
// embedded ABIs.
const (
	selMint         uint32 = 0x40c10f19 // mint(address,uint256)
	selTransfer     uint32 = 0xa9059cbb // transfer(address,uint256)
	selBalanceOf    uint32 = 0x70a08231 // balanceOf(address)
	selForward      uint32 = 0x101e8952 // forward(address)
	selForwardBatch uint32 = 0x63ee6fd6 // forwardBatch(address[],uint256[])
	selForwardToken uint32 = 0x60a8d7a5 // forwardToken(address,address,uint256)
)

// Event topics (keccak256 of the event signature), as they appear in topics[0] of a log.
const (
	// TransferTopic is Transfer(address indexed from, address indexed to, uint256 value).
	TransferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
	// ApprovalTopic is Approval(address indexed owner, address indexed spender, uint256 value).
	ApprovalTopic = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
)

// parseAddress reads a 0x-prefixed 20-byte hex address (any case; the EIP-55
// checksum is not verified).
func parseAddress(what, s string) ([20]byte, error) {
	var a [20]byte
	h, ok := strings.CutPrefix(s, "0x")
	if !ok {
		h, ok = strings.CutPrefix(s, "0X")
	}
	if !ok || len(h) != 40 {
		return a, fmt.Errorf("%s %q: want an address as 0x and 40 hex digits", what, s)
	}
	if _, err := hex.Decode(a[:], []byte(h)); err != nil {
		return a, fmt.Errorf("%s %q: want an address as 0x and 40 hex digits", what, s)
	}
	return a, nil
}

// addressWord is a left-padded ABI word holding an address.
func addressWord(a [20]byte) []byte {
	w := make([]byte, 32)
	copy(w[12:], a[:])
	return w
}

// uintWord is an ABI uint256 word.
func uintWord(what string, v *big.Int) ([]byte, error) {
	if v == nil {
		return nil, fmt.Errorf("%s is nil", what)
	}
	if v.Sign() < 0 || v.BitLen() > 256 {
		return nil, fmt.Errorf("%s %s: want an integer in [0, 2**256-1]", what, v)
	}
	return v.FillBytes(make([]byte, 32)), nil
}

// calldata is a selector followed by ABI words.
func calldata(sel uint32, words ...[]byte) []byte {
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+32*len(words)), sel)
	for _, w := range words {
		out = append(out, w...)
	}
	return out
}

// lenWord is an ABI uint256 word holding a small non-negative integer (an offset or a length).
func lenWord(n int) []byte {
	w := make([]byte, 32)
	binary.BigEndian.PutUint64(w[24:], uint64(n))
	return w
}

// encodeAddrUint encodes sel(address,uint256), the shape of mint and transfer.
func encodeAddrUint(sel uint32, to string, amount *big.Int) ([]byte, error) {
	a, err := parseAddress("recipient", to)
	if err != nil {
		return nil, err
	}
	w, err := uintWord("amount", amount)
	if err != nil {
		return nil, err
	}
	return calldata(sel, addressWord(a), w), nil
}

// CheckTransferReturn checks what a token's transfer or transferFrom
// returned, as OpenZeppelin's SafeERC20 does: nothing (USDT and
// TetherToken declare no return value) or one ABI bool that is true (the
// ERC-20 standard, USDC). false, or any other data, is an error: the token
// did not move the value although the call did not revert.
func CheckTransferReturn(ret []byte) error {
	switch {
	case len(ret) == 0:
		return nil
	case len(ret) != 32:
		return fmt.Errorf("transfer returned %d bytes, want nothing or one bool (32 bytes)", len(ret))
	}
	for _, b := range ret[:31] {
		if b != 0 {
			return fmt.Errorf("transfer returned 0x%x, not a bool", ret)
		}
	}
	switch ret[31] {
	case 1:
		return nil
	case 0:
		return fmt.Errorf("transfer returned false: the token refused it without reverting")
	default:
		return fmt.Errorf("transfer returned 0x%x, not a bool", ret)
	}
}

// topicAddress is an address as an indexed event topic (lowercase, left-padded).
func topicAddress(a string) string {
	return "0x" + strings.Repeat("0", 24) + strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(a, "0x"), "0X"))
}

// TransferCalldata is the data of a call to transfer(to, amount).
func TransferCalldata(to string, amount *big.Int) ([]byte, error) {
	return encodeAddrUint(selTransfer, to, amount)
}

// MintCalldata is the data of a call to mint(to, amount).
func MintCalldata(to string, amount *big.Int) ([]byte, error) {
	return encodeAddrUint(selMint, to, amount)
}

// BalanceOfCalldata is the data of a call to balanceOf(holder).
func BalanceOfCalldata(holder string) ([]byte, error) {
	a, err := parseAddress("holder", holder)
	if err != nil {
		return nil, err
	}
	return calldata(selBalanceOf, addressWord(a)), nil
}

// ForwardCalldata is the data of a call to forward(to).
func ForwardCalldata(to string) ([]byte, error) {
	a, err := parseAddress("recipient", to)
	if err != nil {
		return nil, err
	}
	return calldata(selForward, addressWord(a)), nil
}

// ForwardTokenCalldata is the data of a call to forwardToken(token, to, amount).
func ForwardTokenCalldata(token, to string, amount *big.Int) ([]byte, error) {
	t, err := parseAddress("token", token)
	if err != nil {
		return nil, err
	}
	a, err := parseAddress("recipient", to)
	if err != nil {
		return nil, err
	}
	w, err := uintWord("amount", amount)
	if err != nil {
		return nil, err
	}
	return calldata(selForwardToken, addressWord(t), addressWord(a), w), nil
}

// ForwardBatchCalldata is the data of a call to forwardBatch(to, amounts)
// and the sum of amounts (the value the call must carry).
func ForwardBatchCalldata(to []string, amounts []*big.Int) (data []byte, total *big.Int, err error) {
	if len(to) != len(amounts) {
		return nil, nil, fmt.Errorf("forwardBatch: %d recipients but %d amounts", len(to), len(amounts))
	}
	n := len(to)
	total = new(big.Int)
	// Head: the offsets of the two arrays, counted from the start of the
	// arguments; then each array: its length and its elements.
	words := [][]byte{lenWord(64), lenWord(64 + 32 + 32*n), lenWord(n)}
	vals := [][]byte{lenWord(n)}
	for i := range n {
		a, err := parseAddress(fmt.Sprintf("recipient %d", i), to[i])
		if err != nil {
			return nil, nil, err
		}
		w, err := uintWord(fmt.Sprintf("amount %d", i), amounts[i])
		if err != nil {
			return nil, nil, err
		}
		words = append(words, addressWord(a))
		vals = append(vals, w)
		total.Add(total, amounts[i])
	}
	if total.BitLen() > 256 {
		return nil, nil, fmt.Errorf("forwardBatch: the amounts add up to more than 2**256-1")
	}
	return calldata(selForwardBatch, append(words, vals...)...), total, nil
}
