package devnet

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sluicepay/sluice/contracts"
	"github.com/sluicepay/sluice/jsonrpc"
)

// ReceiptTimeout bounds WaitReceipt when the caller's context has no earlier
// deadline. A --dev chain seals a block every second.
const ReceiptTimeout = 2 * time.Minute

// pollInterval is how often WaitReceipt asks for the receipt.
const pollInterval = 200 * time.Millisecond

// Receipt is the part of a transaction receipt that devnet callers need.
// Hashes and addresses are 0x-prefixed lowercase hex.
type Receipt struct {
	TxHash          string
	Status          uint64 // 1 success, 0 reverted
	BlockHash       string
	BlockNumber     uint64
	TxIndex         uint64
	From            string
	To              string // "" for a contract creation
	ContractAddress string // the created contract, else ""
	GasUsed         uint64
	Logs            []Log
}

// Log is one event log of a receipt.
type Log struct {
	Address  string   // the contract that emitted it
	Topics   []string // topics[0] is the event signature hash
	Data     string   // 0x-prefixed hex
	LogIndex uint64   // position in the block
}

// Deploy deploys the named contract (contracts.TetherToken,
// contracts.USDCToken or contracts.Forwarder) from the unlocked account from, waits for the receipt
// and checks that code exists at the new address, Receipt.ContractAddress.
func Deploy(ctx context.Context, rpcURL, from, contract string) (Receipt, error) {
	art, err := contracts.Get(contract)
	if err != nil {
		return Receipt{}, err
	}
	c, err := jsonrpc.New(rpcURL)
	if err != nil {
		return Receipt{}, err
	}
	r, err := transact(ctx, c, from, "", art.Bin, nil)
	if err != nil {
		return r, fmt.Errorf("deploy %s: %w", contract, err)
	}
	if r.ContractAddress == "" {
		return r, fmt.Errorf("deploy %s: receipt of %s has no contract address", contract, r.TxHash)
	}
	ok, err := hasCode(ctx, c, r.ContractAddress)
	if err != nil {
		return r, fmt.Errorf("deploy %s: %w", contract, err)
	}
	if !ok {
		return r, fmt.Errorf("deploy %s: no code at %s after %s was mined", contract, r.ContractAddress, r.TxHash)
	}
	return r, nil
}

// DeployToken deploys the USDT-like TetherToken from the unlocked account
// from (who becomes its owner, the only minter) and returns its address.
func DeployToken(ctx context.Context, rpcURL, from string) (string, error) {
	r, err := Deploy(ctx, rpcURL, from, contracts.TetherToken)
	return r.ContractAddress, err
}

// DeployUSDC deploys the USDC-like USDCToken from the unlocked account from
// (who becomes its owner, the only minter) and returns its address.
func DeployUSDC(ctx context.Context, rpcURL, from string) (string, error) {
	r, err := Deploy(ctx, rpcURL, from, contracts.USDCToken)
	return r.ContractAddress, err
}

// DeployForwarder deploys the Forwarder from the unlocked account from (who
// becomes its owner, the only caller of forwardToken) and returns its address.
func DeployForwarder(ctx context.Context, rpcURL, from string) (string, error) {
	r, err := Deploy(ctx, rpcURL, from, contracts.Forwarder)
	return r.ContractAddress, err
}

// Mint has the token's owner from mint amount (in base units, 6 decimals)
// to to, and returns the mined transaction's hash.
func Mint(ctx context.Context, rpcURL, from, token, to string, amount *big.Int) (string, error) {
	data, err := MintCalldata(to, amount)
	if err != nil {
		return "", fmt.Errorf("mint: %w", err)
	}
	return call(ctx, rpcURL, "mint", from, token, data, nil)
}

// TransferToken sends amount of token from from to to with
// transfer(address,uint256), which on TetherToken returns nothing and on
// USDCToken returns true, and returns the mined transaction's hash. Before
// sending, it simulates the call (eth_call) and refuses a token that answers
// false or anything but nothing or one bool (CheckTransferReturn); once mined,
// it checks that the token logged Transfer(from, to, amount) exactly.
func TransferToken(ctx context.Context, rpcURL, from, token, to string, amount *big.Int) (string, error) {
	data, err := TransferCalldata(to, amount)
	if err != nil {
		return "", fmt.Errorf("transfer: %w", err)
	}
	if _, err := parseAddress("contract", token); err != nil {
		return "", fmt.Errorf("transfer: %w", err)
	}
	c, err := jsonrpc.New(rpcURL)
	if err != nil {
		return "", err
	}
	// geth's eth_call carries the revert reason too: a transfer that would
	// revert fails here as it would at the gas estimate.
	var ret string
	if err := c.Call(ctx, "eth_call", &ret, map[string]string{"from": from, "to": token, "data": hexData(data)}, "latest"); err != nil {
		return "", fmt.Errorf("transfer on %s: %w", token, err)
	}
	b, err := decodeHex(ret)
	if err != nil {
		return "", fmt.Errorf("transfer on %s: return data: %w", token, err)
	}
	if err := CheckTransferReturn(b); err != nil {
		return "", fmt.Errorf("transfer on %s: %w", token, err)
	}
	r, err := transact(ctx, c, from, token, data, nil)
	if err != nil {
		return r.TxHash, fmt.Errorf("transfer on %s: %w", token, err)
	}
	if err := checkTransferLogged(r, token, from, to, amount); err != nil {
		return r.TxHash, fmt.Errorf("transfer on %s: %w", token, err)
	}
	return r.TxHash, nil
}

// checkTransferLogged checks that r holds the log Transfer(from, to, amount)
// emitted by token: a token that returns true yet moves nothing, or another
// amount, is caught here.
func checkTransferLogged(r Receipt, token, from, to string, amount *big.Int) error {
	want := []string{TransferTopic, topicAddress(from), topicAddress(to)}
	value := hexData(amount.FillBytes(make([]byte, 32)))
	for _, l := range r.Logs {
		if l.Address == strings.ToLower(token) && strings.Join(l.Topics, ",") == strings.Join(want, ",") && l.Data == value {
			return nil
		}
	}
	return fmt.Errorf("transaction %s was mined but the token logged no Transfer of %s from %s to %s (%d logs)",
		r.TxHash, amount, from, to, len(r.Logs))
}

// Forward sends wei to the forwarder, which passes it on to to from inside
// the call (an internal transaction), and returns the mined transaction's hash.
func Forward(ctx context.Context, rpcURL, from, forwarder, to string, wei *big.Int) (string, error) {
	data, err := ForwardCalldata(to)
	if err != nil {
		return "", fmt.Errorf("forward: %w", err)
	}
	if _, err := uintWord("value", wei); err != nil {
		return "", fmt.Errorf("forward: %w", err)
	}
	return call(ctx, rpcURL, "forward", from, forwarder, data, wei)
}

// ForwardBatch sends the sum of wei to the forwarder, which passes wei[i] on
// to to[i] from inside the call, and returns the mined transaction's hash.
func ForwardBatch(ctx context.Context, rpcURL, from, forwarder string, to []string, wei []*big.Int) (string, error) {
	data, total, err := ForwardBatchCalldata(to, wei)
	if err != nil {
		return "", err
	}
	return call(ctx, rpcURL, "forwardBatch", from, forwarder, data, total)
}

// ForwardToken has the forwarder's owner from make the forwarder transfer
// amount of token, which the forwarder holds, to to: the token's Transfer log
// is emitted under a transaction whose `to` is the forwarder. It returns the
// mined transaction's hash.
func ForwardToken(ctx context.Context, rpcURL, from, forwarder, token, to string, amount *big.Int) (string, error) {
	data, err := ForwardTokenCalldata(token, to, amount)
	if err != nil {
		return "", fmt.Errorf("forwardToken: %w", err)
	}
	return call(ctx, rpcURL, "forwardToken", from, forwarder, data, nil)
}

// BalanceOf returns the token balance of holder at the latest block.
func BalanceOf(ctx context.Context, rpcURL, token, holder string) (*big.Int, error) {
	data, err := BalanceOfCalldata(holder)
	if err != nil {
		return nil, err
	}
	if _, err := parseAddress("token", token); err != nil {
		return nil, err
	}
	c, err := jsonrpc.New(rpcURL)
	if err != nil {
		return nil, err
	}
	var out string
	if err := c.Call(ctx, "eth_call", &out, map[string]string{"to": token, "data": hexData(data)}, "latest"); err != nil {
		return nil, fmt.Errorf("balanceOf(%s) on %s: %w", holder, token, err)
	}
	b, err := decodeHex(out)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("balanceOf(%s) on %s: want one 32-byte word, got %.80q", holder, token, out)
	}
	return new(big.Int).SetBytes(b), nil
}

// HasCode reports whether a contract is deployed at addr (at the latest
// block): use it to reuse an address deployed earlier instead of deploying anew.
func HasCode(ctx context.Context, rpcURL, addr string) (bool, error) {
	c, err := jsonrpc.New(rpcURL)
	if err != nil {
		return false, err
	}
	return hasCode(ctx, c, addr)
}

// DeployedAt reports whether the contract named (contracts.TetherToken, …)
// is what is deployed at addr, as from would deploy it: the code there must
// equal what its creation code returns when from runs it (an eth_call with
// no recipient), immutables included. Code of another contract at addr is
// false: a dev chain started afresh hands out the same addresses, nonce by
// nonce, to whatever is deployed first, so "some code" is not enough to
// reuse an address recorded earlier.
func DeployedAt(ctx context.Context, rpcURL, from, addr, contract string) (bool, error) {
	art, err := contracts.Get(contract)
	if err != nil {
		return false, err
	}
	if _, err := parseAddress("contract", addr); err != nil {
		return false, err
	}
	if _, err := parseAddress("sender", from); err != nil {
		return false, err
	}
	c, err := jsonrpc.New(rpcURL)
	if err != nil {
		return false, err
	}
	var code, want string
	if err := c.Call(ctx, "eth_getCode", &code, addr, "latest"); err != nil {
		return false, fmt.Errorf("code at %s: %w", addr, err)
	}
	if code == "" || code == "0x" {
		return false, nil
	}
	if err := c.Call(ctx, "eth_call", &want, map[string]string{"from": from, "data": hexData(art.Bin)}, "latest"); err != nil {
		return false, fmt.Errorf("runtime code of %s: %w", contract, err)
	}
	if want == "" || want == "0x" {
		return false, fmt.Errorf("runtime code of %s: its creation code returned nothing", contract)
	}
	return strings.EqualFold(code, want), nil
}

func hasCode(ctx context.Context, c *jsonrpc.Client, addr string) (bool, error) {
	if _, err := parseAddress("contract", addr); err != nil {
		return false, err
	}
	var code string
	if err := c.Call(ctx, "eth_getCode", &code, addr, "latest"); err != nil {
		return false, fmt.Errorf("code at %s: %w", addr, err)
	}
	return code != "" && code != "0x", nil
}

// call sends data (and value, which may be nil) from from to the contract to
// and waits for a successful receipt.
func call(ctx context.Context, rpcURL, what, from, to string, data []byte, value *big.Int) (string, error) {
	if _, err := parseAddress("contract", to); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	c, err := jsonrpc.New(rpcURL)
	if err != nil {
		return "", err
	}
	r, err := transact(ctx, c, from, to, data, value)
	if err != nil {
		return r.TxHash, fmt.Errorf("%s on %s: %w", what, to, err)
	}
	return r.TxHash, nil
}

// transact sends a transaction from the unlocked account from with
// eth_sendTransaction (geth estimates the gas, so a call that would revert
// fails here with the revert reason) and waits for its receipt, which must
// have status 1. to is "" for a contract creation.
func transact(ctx context.Context, c *jsonrpc.Client, from, to string, data []byte, value *big.Int) (Receipt, error) {
	if _, err := parseAddress("sender", from); err != nil {
		return Receipt{}, err
	}
	tx := map[string]string{"from": from, "data": hexData(data)}
	if to != "" {
		tx["to"] = to
	}
	if value != nil && value.Sign() != 0 {
		tx["value"] = "0x" + value.Text(16)
	}
	var hash string
	if err := c.Call(ctx, "eth_sendTransaction", &hash, tx); err != nil {
		return Receipt{}, err
	}
	r, err := waitReceipt(ctx, c, hash)
	if err != nil {
		return Receipt{TxHash: hash}, err
	}
	if r.Status != 1 {
		return r, fmt.Errorf("transaction %s reverted (status %d) in block %d", hash, r.Status, r.BlockNumber)
	}
	return r, nil
}

// WaitReceipt polls for the receipt of txHash until it is mined, ctx ends or
// ReceiptTimeout passes. It does not check the status: a reverted
// transaction's receipt (Status 0) is returned without error.
func WaitReceipt(ctx context.Context, rpcURL, txHash string) (Receipt, error) {
	c, err := jsonrpc.New(rpcURL)
	if err != nil {
		return Receipt{}, err
	}
	return waitReceipt(ctx, c, txHash)
}

func waitReceipt(ctx context.Context, c *jsonrpc.Client, txHash string) (Receipt, error) {
	if b, err := decodeHex(txHash); err != nil || len(b) != 32 {
		return Receipt{}, fmt.Errorf("transaction hash %q: want 0x and 64 hex digits", txHash)
	}
	ctx, cancel := context.WithTimeout(ctx, ReceiptTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		var raw json.RawMessage
		err := c.Call(ctx, "eth_getTransactionReceipt", &raw, txHash)
		var rpcErr *jsonrpc.Error
		switch {
		case err == nil && len(raw) > 0 && string(raw) != "null":
			return decodeReceipt(raw)
		case err == nil:
			// Not mined yet (or unknown: a dropped transaction ends at the timeout).
		case errors.As(err, &rpcErr) && strings.Contains(rpcErr.Message, "indexing"):
			// geth answers "transaction indexing is in progress" for a while after a start.
		case ctx.Err() != nil:
			// Fall through to the ctx check below for a clearer message.
		default:
			return Receipt{}, fmt.Errorf("receipt of %s: %w", txHash, err)
		}
		select {
		case <-ctx.Done():
			return Receipt{}, fmt.Errorf("receipt of %s: not mined: %w", txHash, ctx.Err())
		case <-tick.C:
		}
	}
}

type rpcReceipt struct {
	TransactionHash  string   `json:"transactionHash"`
	Status           hexU64   `json:"status"`
	BlockHash        string   `json:"blockHash"`
	BlockNumber      hexU64   `json:"blockNumber"`
	TransactionIndex hexU64   `json:"transactionIndex"`
	From             string   `json:"from"`
	To               *string  `json:"to"`
	ContractAddress  *string  `json:"contractAddress"`
	GasUsed          hexU64   `json:"gasUsed"`
	Logs             []rpcLog `json:"logs"`
}

type rpcLog struct {
	Address  string   `json:"address"`
	Topics   []string `json:"topics"`
	Data     string   `json:"data"`
	LogIndex hexU64   `json:"logIndex"`
}

func decodeReceipt(raw json.RawMessage) (Receipt, error) {
	var rr rpcReceipt
	if err := json.Unmarshal(raw, &rr); err != nil {
		return Receipt{}, fmt.Errorf("decode receipt: %w", err)
	}
	r := Receipt{
		TxHash:      strings.ToLower(rr.TransactionHash),
		Status:      uint64(rr.Status),
		BlockHash:   strings.ToLower(rr.BlockHash),
		BlockNumber: uint64(rr.BlockNumber),
		TxIndex:     uint64(rr.TransactionIndex),
		From:        strings.ToLower(rr.From),
		GasUsed:     uint64(rr.GasUsed),
		Logs:        make([]Log, 0, len(rr.Logs)),
	}
	if rr.To != nil {
		r.To = strings.ToLower(*rr.To)
	}
	if rr.ContractAddress != nil {
		r.ContractAddress = strings.ToLower(*rr.ContractAddress)
	}
	for _, l := range rr.Logs {
		topics := make([]string, len(l.Topics))
		for i, t := range l.Topics {
			topics[i] = strings.ToLower(t)
		}
		r.Logs = append(r.Logs, Log{
			Address:  strings.ToLower(l.Address),
			Topics:   topics,
			Data:     strings.ToLower(l.Data),
			LogIndex: uint64(l.LogIndex),
		})
	}
	return r, nil
}

// hexU64 is a JSON-RPC quantity ("0x1a").
type hexU64 uint64

func (h *hexU64) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("quantity %s: want a hex string", b)
	}
	digits, ok := strings.CutPrefix(s, "0x")
	if !ok || digits == "" {
		return fmt.Errorf("quantity %q: want 0x and hex digits", s)
	}
	v, err := strconv.ParseUint(digits, 16, 64)
	if err != nil {
		return fmt.Errorf("quantity %q: %w", s, err)
	}
	*h = hexU64(v)
	return nil
}

func hexData(b []byte) string { return "0x" + hex.EncodeToString(b) }

func decodeHex(s string) ([]byte, error) {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok {
		return nil, fmt.Errorf("%.80q: want 0x-prefixed hex", s)
	}
	return hex.DecodeString(h)
}
