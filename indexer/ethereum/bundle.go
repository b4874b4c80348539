package ethereum

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Bundle is one block's JSON-RPC answers as saved in a file, ready for
// DecodeBlock and DecodeTraces.
type Bundle struct {
	Block    json.RawMessage // eth_getBlockByHash(hash, true) result
	Receipts json.RawMessage // JSON array of receipts; nil if the file has none
	Traces   json.RawMessage // callTracer answer, one per tx; nil if none
}

// ParseBundle reads the forms a saved block comes in:
//
//   - {"block": BLOCK, "receipts": [RECEIPT...], "traces": [TRACE...]}, the
//     receipts and traces optional;
//   - BLOCK alone, an eth_getBlockByHash / eth_getBlockByNumber result;
//   - coinbase/chainstorage's raw block: {"ethereum": {"header":
//     base64(BLOCK), "transactionReceipts": [base64(RECEIPT)...],
//     "transactionTraces": [base64(TRACE)...]}}.
//
// A JSON-RPC envelope {"jsonrpc": "2.0", "id": ..., "result": ...} may wrap
// the whole, BLOCK, the receipts array, each receipt, or the traces.
func ParseBundle(data []byte) (Bundle, error) {
	data, err := UnwrapRPC(data)
	if err != nil {
		return Bundle{}, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Bundle{}, fmt.Errorf("a JSON %s where a block or an object holding one belongs", te.Value)
		}
		return Bundle{}, fmt.Errorf("not valid JSON: %w", err)
	}
	switch {
	case top["ethereum"] != nil:
		return parseChainstorage(top["ethereum"])
	case top["block"] != nil:
		var bu Bundle
		if bu.Block, err = UnwrapRPC(top["block"]); err != nil {
			return Bundle{}, fmt.Errorf("block: %w", err)
		}
		if r := top["receipts"]; !isNull(r) {
			if bu.Receipts, err = UnwrapRPC(r); err != nil {
				return Bundle{}, fmt.Errorf("receipts: %w", err)
			}
		}
		if t := top["traces"]; !isNull(t) {
			if bu.Traces, err = UnwrapRPC(t); err != nil {
				return Bundle{}, fmt.Errorf("traces: %w", err)
			}
		}
		return bu, nil
	case top["transactions"] != nil && top["hash"] != nil:
		return Bundle{Block: data}, nil
	default:
		return Bundle{}, errors.New(`neither a block (an object with "hash" and "transactions"), nor {"block": ..., "receipts": [...]}, nor a chainstorage raw block {"ethereum": {"header": ...}}`)
	}
}

func parseChainstorage(raw json.RawMessage) (Bundle, error) {
	// encoding/json decodes base64 into []byte.
	var cs struct {
		Header              []byte   `json:"header"`
		TransactionReceipts [][]byte `json:"transactionReceipts"`
		TransactionTraces   [][]byte `json:"transactionTraces"`
	}
	if err := json.Unmarshal(raw, &cs); err != nil {
		return Bundle{}, fmt.Errorf("chainstorage block: %w", err)
	}
	if len(cs.Header) == 0 {
		return Bundle{}, fmt.Errorf("chainstorage block: ethereum.header: %w", errMissing)
	}
	if !json.Valid(cs.Header) {
		return Bundle{}, errors.New("chainstorage block: ethereum.header is not base64 of JSON")
	}
	bu := Bundle{Block: cs.Header}
	var err error
	if bu.Receipts, err = joinJSON(cs.TransactionReceipts, "ethereum.transactionReceipts"); err != nil {
		return Bundle{}, fmt.Errorf("chainstorage block: %w", err)
	}
	if len(cs.TransactionTraces) > 0 {
		if bu.Traces, err = joinJSON(cs.TransactionTraces, "ethereum.transactionTraces"); err != nil {
			return Bundle{}, fmt.Errorf("chainstorage block: %w", err)
		}
	}
	return bu, nil
}

// joinJSON makes a JSON array of JSON documents, each checked: a broken one
// would otherwise break its neighbours' syntax and the error would point
// at them.
func joinJSON(items [][]byte, field string) (json.RawMessage, error) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, it := range items {
		if !json.Valid(it) {
			return nil, fmt.Errorf("%s[%d] is not base64 of JSON", field, i)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(it)
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

// UnwrapRPC returns the result of a JSON-RPC response envelope, or data
// unchanged if it is none. Arrays have each element unwrapped, for a batch
// of eth_getTransactionReceipt responses, and results are unwrapped again,
// for an envelope around such a batch. An error response becomes an error.
func UnwrapRPC(data json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(data)
	if len(t) == 0 {
		return nil, errors.New("empty")
	}
	switch t[0] {
	case '{':
		u, unwrapped, err := unwrapObject(t)
		if err != nil || !unwrapped {
			return u, err
		}
		return UnwrapRPC(u)
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, fmt.Errorf("not valid JSON: %w", err)
		}
		changed := false
		for i, it := range items {
			if len(it) == 0 || it[0] != '{' {
				continue // json.RawMessage items come trimmed
			}
			u, unwrapped, err := unwrapObject(it)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if unwrapped {
				if u, err = UnwrapRPC(u); err != nil {
					return nil, fmt.Errorf("[%d]: %w", i, err)
				}
				items[i], changed = u, true
			}
		}
		if !changed {
			return t, nil
		}
		return json.Marshal(items)
	default:
		return t, nil
	}
}

// rpcEnvelope is a JSON-RPC 2.0 response.
type rpcEnvelope struct {
	JSONRPC json.RawMessage `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// unwrapObject unwraps obj if it is an envelope: an object with "result" or
// "error" and no keys besides "jsonrpc" and "id". (A call frame has an
// "error" too, but also a "type".)
func unwrapObject(obj json.RawMessage) (_ json.RawMessage, unwrapped bool, _ error) {
	if len(obj) == 0 || obj[0] != '{' {
		return obj, false, nil
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(obj, &keys); err != nil {
		return nil, false, fmt.Errorf("not valid JSON: %w", err)
	}
	_, hasResult := keys["result"]
	_, hasError := keys["error"]
	if !hasResult && !hasError {
		return obj, false, nil
	}
	for k := range keys {
		if k != "jsonrpc" && k != "id" && k != "result" && k != "error" {
			return obj, false, nil
		}
	}
	var env rpcEnvelope
	if err := json.Unmarshal(obj, &env); err != nil {
		return nil, false, fmt.Errorf("JSON-RPC response: %w", err)
	}
	if env.Error != nil {
		return nil, false, fmt.Errorf("JSON-RPC error %d: %s", env.Error.Code, env.Error.Message)
	}
	if isNull(env.Result) {
		return nil, false, errors.New("JSON-RPC result is null (the node does not have it)")
	}
	return env.Result, true, nil
}
