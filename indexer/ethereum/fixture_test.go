package ethereum

import (
	"math/big"
	"time"
)

type obj = map[string]any

// The fixture block: post-London, one transaction of each type 0-4, with
// receipts given out of order.
const (
	fxBlockHash  = "0xb1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1"
	fxParentHash = "0xb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
	fxToken      = "0x3030303030303030303030303030303030303030"
	fxNFT        = "0x3131313131313131313131313131313131313131"
	fxOddToken   = "0x3232323232323232323232323232323232323232"
	fxCreated    = "0x4040404040404040404040404040404040404040"
	// A checksummed (mixed-case) sender, as some clients print them.
	fxSenderMixed = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"
	fxSender      = "0xabcdef0123456789abcdef0123456789abcdef01"
)

const approvalTopic = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"

// fxBigValue is above 2^128, below 2^256: 2^200 + 5.
func fxBigValue() *big.Int {
	return new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 200), big.NewInt(5))
}

// fxBlobValue is 2^132.
func fxBlobValue() *big.Int { return new(big.Int).Lsh(big.NewInt(1), 132) }

func fxLog(addr string, idx string, txHash string, topics []any, data string) obj {
	return obj{
		"address": addr, "topics": topics, "data": data, "logIndex": idx,
		"transactionHash": txHash, "blockHash": fxBlockHash, "blockNumber": "0x1234",
		"transactionIndex": "0x0", "removed": false,
	}
}

// fixture returns a block (eth_getBlockByHash with full txs) and its
// receipts as generic JSON values, for tests to marshal or mutate.
func fixture() (block obj, receipts []any) {
	tx := func(i int, typ string, hash, from string, to any, value string, extra obj) obj {
		t := obj{
			"blockHash": fxBlockHash, "blockNumber": "0x1234", "hash": hash, "from": from, "to": to,
			"transactionIndex": bigHex(big.NewInt(int64(i))), "type": typ, "value": value,
			"nonce": "0x5", "gas": "0x30d40", "input": "0x",
			"v": "0x1", "r": hash32(0x77), "s": hash32(0x78),
		}
		for k, v := range extra {
			t[k] = v
		}
		return t
	}
	fee1559 := obj{"maxFeePerGas": "0x77359400", "maxPriorityFeePerGas": "0x3b9aca00", "gasPrice": "0x6fc23ac0", "chainId": "0x1", "accessList": []any{}}
	merge := func(a, b obj) obj {
		m := obj{}
		for k, v := range a {
			m[k] = v
		}
		for k, v := range b {
			m[k] = v
		}
		return m
	}
	txs := []any{
		// 0: legacy ether payment from a mixed-case sender
		tx(0, "0x0", hash32(0x10), fxSenderMixed, addr20(0x20), "0xde0b6b3a7640000", obj{"gasPrice": "0x4a817c800"}),
		// 1: type 2 token transfer() whose receipt holds the Transfer logs
		tx(1, "0x2", hash32(0x11), addr20(0x21), fxToken, "0x0", merge(fee1559, obj{
			"input": "0xa9059cbb" + topicOf(addr20(0x22))[2:] + word(fxBigValue())[2:],
		})),
		// 2: type 2, failed, yet its receipt has a Transfer-shaped log
		tx(2, "0x2", hash32(0x12), addr20(0x23), fxToken, "0x0", fee1559),
		// 3: type 1 contract creation
		tx(3, "0x1", hash32(0x13), addr20(0x24), nil, "0x0", obj{
			"gasPrice": "0x59682f00", "chainId": "0x1", "input": "0x6080604052",
			"accessList": []any{obj{"address": addr20(0x99), "storageKeys": []any{hash32(0x01)}}},
		}),
		// 4: type 3 blob tx with a value above 2^128
		tx(4, "0x3", hash32(0x14), addr20(0x25), addr20(0x50), bigHex(fxBlobValue()), merge(fee1559, obj{
			"maxFeePerBlobGas": "0x1", "blobVersionedHashes": []any{"0x01" + hash32(0x02)[4:]},
			"yParity": "0x1",
		})),
		// 5: type 4 set-code tx
		tx(5, "0x4", hash32(0x15), addr20(0x26), addr20(0x26), "0x0", merge(fee1559, obj{
			"authorizationList": []any{obj{"chainId": "0x1", "address": addr20(0x60), "nonce": "0x0", "yParity": "0x0", "r": hash32(0x61), "s": hash32(0x62)}},
		})),
	}
	block = obj{
		"number": "0x1234", "hash": fxBlockHash, "parentHash": fxParentHash,
		"timestamp": "0x6543210f", "miner": addr20(0xee), "gasLimit": "0x1c9c380", "gasUsed": "0x7a120",
		"baseFeePerGas": "0x3b9aca00", "size": "0x4d2",
		"difficulty": "0x0", "totalDifficulty": "0xc70d815d562d3cfa955", "uncles": []any{},
		"withdrawals": []any{}, "blobGasUsed": "0x20000", "excessBlobGas": "0x0",
		"transactions": txs,
	}
	rc := func(i int, hash, status, gasUsed string, contract any, logs []any) obj {
		return obj{
			"blockHash": fxBlockHash, "blockNumber": "0x1234", "transactionHash": hash,
			"transactionIndex": bigHex(big.NewInt(int64(i))), "status": status, "gasUsed": gasUsed,
			"cumulativeGasUsed": "0x7a120", "effectiveGasPrice": "0x6fc23ac0",
			"contractAddress": contract, "logs": logs, "logsBloom": "0x00", "type": "0x2",
		}
	}
	h1, h2, h3 := hash32(0x11), hash32(0x12), hash32(0x13)
	r0 := rc(0, hash32(0x10), "0x1", "0x5208", nil, []any{})
	r0["effectiveGasPrice"] = "0x4a817c800"
	r1 := rc(1, h1, "0x1", "0xd2f4", nil, []any{
		// ERC-20 Transfer of 2^200+5
		fxLog(fxToken, "0x0", h1, []any{TransferTopic, topicOf(addr20(0x21)), topicOf(addr20(0x22))}, word(fxBigValue())),
		// ERC-721 Transfer: token id as a fourth topic, no data
		fxLog(fxNFT, "0x1", h1, []any{TransferTopic, topicOf(addr20(0x21)), topicOf(addr20(0x22)), hash32(0x00)}, "0x"),
		// everything in data, one topic
		fxLog(fxOddToken, "0x2", h1, []any{TransferTopic}, "0x"+topicOf(addr20(0x21))[2:]+topicOf(addr20(0x22))[2:]+word(big.NewInt(7))[2:]),
		// an Approval: not a Transfer at all
		fxLog(fxToken, "0x3", h1, []any{approvalTopic, topicOf(addr20(0x21)), topicOf(addr20(0x22))}, word(big.NewInt(9))),
		// three topics, but topic 1 is not a padded address
		fxLog(fxToken, "0x4", h1, []any{TransferTopic, hash32(0x21), topicOf(addr20(0x22))}, word(big.NewInt(1))),
		// an upper-case rendering of a valid transfer of 1000
		fxLog(upperHex(fxToken), "0x5", upperHex(h1), []any{upperHex(TransferTopic), topicOf(fxSenderMixed), topicOf(addr20(0x22))}, upperHex(word(big.NewInt(1000)))),
	})
	r2 := rc(2, h2, "0x0", "0x6000", nil, []any{
		fxLog(fxToken, "0x6", h2, []any{TransferTopic, topicOf(addr20(0x23)), topicOf(addr20(0x22))}, word(big.NewInt(5))),
	})
	r3 := rc(3, h3, "0x1", "0x1e848", fxCreated, []any{
		// a mint from the zero address in the new contract's constructor
		fxLog(fxCreated, "0x7", h3, []any{TransferTopic, topicOf(addr20(0x00)), topicOf(addr20(0x24))}, word(big.NewInt(1_000_000))),
	})
	r3["effectiveGasPrice"] = "0x59682f00"
	r4 := rc(4, hash32(0x14), "0x1", "0x5208", nil, []any{})
	r4["blobGasUsed"], r4["blobGasPrice"] = "0x20000", "0x1"
	r5 := rc(5, hash32(0x15), "0x1", "0xa410", nil, []any{})
	// out of order, as eth_getTransactionReceipt answers may arrive
	return block, []any{r3, r0, r5, r1, r4, r2}
}

// upperHex upper-cases the digits of a 0x-prefixed hex string.
func upperHex(s string) string {
	b := []byte(s)
	for i := 2; i < len(b); i++ {
		if 'a' <= b[i] && b[i] <= 'f' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// fixtureWant is what fixture decodes to.
func fixtureWant() *Block {
	b := func(v int64) *big.Int { return big.NewInt(v) }
	hexBig := func(s string) *big.Int { v, _ := new(big.Int).SetString(s, 0); return v }
	return &Block{
		Number: 0x1234, Hash: fxBlockHash, ParentHash: fxParentHash,
		Time:  time.Unix(0x6543210f, 0).UTC(),
		Miner: addr20(0xee), GasLimit: 0x1c9c380, GasUsed: 0x7a120, BaseFee: b(1_000_000_000), Size: 0x4d2,
		Txs: []Tx{
			{Hash: hash32(0x10), Index: 0, Type: 0, From: fxSender, To: addr20(0x20), Value: hexBig("0xde0b6b3a7640000"),
				Nonce: 5, Gas: 200000, GasPrice: b(20_000_000_000), GasUsed: 21000, EffectiveGasPrice: b(20_000_000_000), Status: 1, Input: []byte{}},
			{Hash: hash32(0x11), Index: 1, Type: 2, From: addr20(0x21), To: fxToken, Value: b(0),
				Nonce: 5, Gas: 200000, GasPrice: b(2_000_000_000), GasUsed: 0xd2f4, EffectiveGasPrice: b(0x6fc23ac0), Status: 1,
				Input: append([]byte{0xa9, 0x05, 0x9c, 0xbb}, append(append(make([]byte, 12), bytesRepeat(0x22, 20)...), fxBigValue().FillBytes(make([]byte, 32))...)...)},
			{Hash: hash32(0x12), Index: 2, Type: 2, From: addr20(0x23), To: fxToken, Value: b(0),
				Nonce: 5, Gas: 200000, GasPrice: b(2_000_000_000), GasUsed: 0x6000, EffectiveGasPrice: b(0x6fc23ac0), Status: 0, Input: []byte{}},
			{Hash: hash32(0x13), Index: 3, Type: 1, From: addr20(0x24), To: "", Value: b(0),
				Nonce: 5, Gas: 200000, GasPrice: b(1_500_000_000), GasUsed: 0x1e848, EffectiveGasPrice: b(1_500_000_000), Status: 1,
				ContractAddress: fxCreated, Input: []byte{0x60, 0x80, 0x60, 0x40, 0x52}},
			{Hash: hash32(0x14), Index: 4, Type: 3, From: addr20(0x25), To: addr20(0x50), Value: fxBlobValue(),
				Nonce: 5, Gas: 200000, GasPrice: b(2_000_000_000), GasUsed: 21000, EffectiveGasPrice: b(0x6fc23ac0), Status: 1, Input: []byte{}},
			{Hash: hash32(0x15), Index: 5, Type: 4, From: addr20(0x26), To: addr20(0x26), Value: b(0),
				Nonce: 5, Gas: 200000, GasPrice: b(2_000_000_000), GasUsed: 0xa410, EffectiveGasPrice: b(0x6fc23ac0), Status: 1, Input: []byte{}},
		},
		Transfers: []TokenTransfer{
			{Token: fxToken, From: addr20(0x21), To: addr20(0x22), Value: fxBigValue(), TxHash: hash32(0x11), TxIndex: 1, LogIndex: 0},
			{Token: fxToken, From: fxSender, To: addr20(0x22), Value: b(1000), TxHash: hash32(0x11), TxIndex: 1, LogIndex: 5},
			{Token: fxCreated, From: addr20(0x00), To: addr20(0x24), Value: b(1_000_000), TxHash: hash32(0x13), TxIndex: 3, LogIndex: 7},
		},
		BadTransferLogs: []RawLog{
			{TxHash: hash32(0x11), TxIndex: 1, LogIndex: 1, Address: fxNFT,
				Topics: []string{TransferTopic, topicOf(addr20(0x21)), topicOf(addr20(0x22)), hash32(0x00)}, Data: "0x"},
			{TxHash: hash32(0x11), TxIndex: 1, LogIndex: 2, Address: fxOddToken,
				Topics: []string{TransferTopic}, Data: "0x" + topicOf(addr20(0x21))[2:] + topicOf(addr20(0x22))[2:] + word(b(7))[2:]},
			{TxHash: hash32(0x11), TxIndex: 1, LogIndex: 4, Address: fxToken,
				Topics: []string{TransferTopic, hash32(0x21), topicOf(addr20(0x22))}, Data: word(b(1))},
		},
	}
}

func bytesRepeat(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}
