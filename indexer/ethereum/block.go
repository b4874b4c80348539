package ethereum

import (
	"math/big"
	"time"
)

// Block is a decoded Ethereum block with its receipts applied: what the
// index stores. Hashes and addresses are 0x-prefixed lower-case hex;
// amounts are exact integers (wei, token units) that may exceed 64 bits.
type Block struct {
	Number     uint64
	Hash       string
	ParentHash string
	Time       time.Time
	Miner      string
	GasLimit   uint64
	GasUsed    uint64
	BaseFee    *big.Int // nil before London
	Size       uint64
	Txs        []Tx
	// Transfers are the ERC-20 Transfer(address,address,uint256) logs of
	// successful transactions, in log order.
	Transfers []TokenTransfer
	// BadTransferLogs carry the Transfer topic but not its ERC-20 shape
	// (three topics and one 32-byte data word): kept, never silently dropped.
	BadTransferLogs []RawLog
	// Internal are value transfers made inside contract calls (from traces),
	// when tracing is enabled; nil otherwise.
	Internal []InternalTransfer
}

// Tx is a transaction joined with its receipt.
type Tx struct {
	Hash              string
	Index             uint32
	Type              uint8
	From              string
	To                string // "" for a contract creation
	Value             *big.Int
	Nonce             uint64
	Gas               uint64
	GasPrice          *big.Int // legacy gasPrice, or maxFeePerGas for 1559 types
	GasUsed           uint64
	EffectiveGasPrice *big.Int
	Status            uint8  // 1 success, 0 failure
	ContractAddress   string // set for contract creations
	Input             []byte
}

// TokenTransfer is one ERC-20 Transfer log.
type TokenTransfer struct {
	Token    string
	From     string
	To       string
	Value    *big.Int
	TxHash   string
	TxIndex  uint32
	LogIndex uint32
}

// RawLog is a log kept as it came.
type RawLog struct {
	TxHash   string
	TxIndex  uint32
	LogIndex uint32
	Address  string
	Topics   []string
	Data     string // 0x hex
}

// InternalTransfer is ETH moved by a call inside a transaction.
type InternalTransfer struct {
	TxHash       string
	TxIndex      uint32
	TraceAddress string // position in the call tree, e.g. "0.2.1"
	CallType     string // call, create, create2, selfdestruct, ...
	From         string
	To           string
	Value        *big.Int
}
