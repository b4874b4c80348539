package ethereum

import (
	"math/big"
	"strings"
)

// TransferTopic is keccak256("Transfer(address,address,uint256)"), topic 0
// of the ERC-20 Transfer event (and of ERC-721's, which indexes its third
// argument and so has four topics).
const TransferTopic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

// erc20Transfer reads a log that carries TransferTopic as an ERC-20
// Transfer: exactly three topics (the event, from, to), each address topic
// an address left-padded with zeros, and the amount as one 32-byte data
// word. topics and data are checked, lower-case hex. ok is false for any
// other shape, such as ERC-721's four topics or tokens that put everything
// in data: those are not ERC-20 amounts and must not be read as one.
func erc20Transfer(topics []string, data string) (from, to string, value *big.Int, ok bool) {
	if len(topics) != 3 || len(data) != 2+64 {
		return "", "", nil, false
	}
	from, ok1 := topicAddress(topics[1])
	to, ok2 := topicAddress(topics[2])
	if !ok1 || !ok2 {
		return "", "", nil, false
	}
	value, ok = new(big.Int).SetString(data[2:], 16)
	return from, to, value, ok
}

// topicAddress returns the address in a 32-byte topic whose 12 high bytes
// are zero.
func topicAddress(topic string) (string, bool) {
	const pad = 2 + 24 // "0x" and 12 zero bytes
	if len(topic) != 2+64 || strings.TrimLeft(topic[2:pad], "0") != "" {
		return "", false
	}
	return "0x" + topic[pad:], true
}
