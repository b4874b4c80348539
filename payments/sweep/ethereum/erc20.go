package ethsweep

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// ERC-20 selectors (the first four bytes of keccak256 of the signature) and
// the Transfer event's topic; erc20_test.go recomputes them.
const (
	selTransfer  uint32 = 0xa9059cbb // transfer(address,uint256)
	selBalanceOf uint32 = 0x70a08231 // balanceOf(address)
)

// transferTopic is Transfer(address indexed from, address indexed to, uint256 value).
var transferTopic = common.HexToHash("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")

// transferCalldata is the data of a call to transfer(to, amount). Nothing is
// expected back: mainnet USDT's transfer returns nothing, and success is
// read from the receipt (status and the Transfer log), not a returned bool.
func transferCalldata(to common.Address, amount *big.Int) ([]byte, error) {
	if amount == nil || amount.Sign() < 0 || amount.BitLen() > 256 {
		return nil, fmt.Errorf("token amount %v: want an integer in [0, 2**256-1]", amount)
	}
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 68), selTransfer)
	out = append(out, common.LeftPadBytes(to.Bytes(), 32)...)
	return append(out, amount.FillBytes(make([]byte, 32))...), nil
}

// balanceOfCalldata is the data of a call to balanceOf(holder).
func balanceOfCalldata(holder common.Address) []byte {
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 36), selBalanceOf)
	return append(out, common.LeftPadBytes(holder.Bytes(), 32)...)
}

// parseTransfer reads transfer(to, amount) calldata; ok=false for anything
// else (another method, or words that are not an address and a uint256).
func parseTransfer(data []byte) (to common.Address, amount *big.Int, ok bool) {
	if len(data) != 68 || binary.BigEndian.Uint32(data) != selTransfer {
		return common.Address{}, nil, false
	}
	if !bytes.Equal(data[4:16], make([]byte, 12)) {
		return common.Address{}, nil, false // not an address word
	}
	return common.BytesToAddress(data[16:36]), new(big.Int).SetBytes(data[36:68]), true
}

// hasTransferLog reports whether logs hold the Transfer(from, to, amount)
// emitted by token: the proof that a transfer happened, whether or not the
// token's transfer returns a bool.
func hasTransferLog(logs []*types.Log, token, from, to common.Address, amount *big.Int) bool {
	for _, l := range logs {
		if l == nil || l.Address != token || len(l.Topics) != 3 || l.Topics[0] != transferTopic {
			continue
		}
		if common.BytesToAddress(l.Topics[1].Bytes()) != from || common.BytesToAddress(l.Topics[2].Bytes()) != to {
			continue
		}
		if len(l.Data) == 32 && new(big.Int).SetBytes(l.Data).Cmp(amount) == 0 {
			return true
		}
	}
	return false
}
