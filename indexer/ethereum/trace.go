package ethereum

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// callFrame is one call of geth's callTracer, reduced to what moves value.
type callFrame struct {
	Type  string      `json:"type"`
	From  string      `json:"from"`
	To    string      `json:"to"`
	Value string      `json:"value"`
	Error string      `json:"error"`
	Calls []callFrame `json:"calls"`
}

// traceEntry is one element of debug_traceBlockByHash's answer, in either
// of its shapes: {"txHash": ..., "result": {frame}} (geth 1.11 and later;
// ethereum-etl's fixtures have "result" without "txHash"), or the bare frame
// (older geth). A tx geth could not trace is {"txHash": ..., "error": ...}.
type traceEntry struct {
	callFrame
	TxHash string     `json:"txHash"`
	Result *callFrame `json:"result"`
}

// DecodeTraces reads the answer of debug_traceBlockByHash(hash,
// {"tracer": "callTracer"}) for b, one trace per transaction in block order,
// and sets b.Internal to the ether moved inside contract calls.
//
// A nested call moves value when it is a CALL, CREATE, CREATE2 or
// SELFDESTRUCT with a value above zero. DELEGATECALL and STATICCALL move
// none (geth may still show the caller's value on a DELEGATECALL frame),
// and CALLCODE sends its value to the caller itself. The top-level frame is
// the transaction, whose value Tx.Value already holds. A frame with an
// error was reverted, and everything under it with it; failed transactions
// are skipped whole.
//
// On error b is left as it was.
func DecodeTraces(traces json.RawMessage, b *Block) error {
	if b == nil {
		return errors.New("traces: no block to apply them to")
	}
	if isNull(traces) {
		return errors.New("traces: the answer is null")
	}
	var entries []*traceEntry
	if err := json.Unmarshal(traces, &entries); err != nil {
		return fmt.Errorf("traces: %w", err)
	}
	if len(entries) != len(b.Txs) {
		return fmt.Errorf("traces: %d of them for the %d transactions of block %s", len(entries), len(b.Txs), b.Hash)
	}
	internal := []InternalTransfer{} // not nil: traced, even if nothing moved
	for i, e := range entries {
		tx := &b.Txs[i]
		top, err := e.frame(tx)
		if err != nil {
			return fmt.Errorf("traces[%d] (tx %s): %w", i, tx.Hash, err)
		}
		if tx.Status != 1 {
			continue // reverted: nothing moved
		}
		if err := walkFrame(top, "", tx, &internal); err != nil {
			return fmt.Errorf("traces[%d] (tx %s): %w", i, tx.Hash, err)
		}
	}
	b.Internal = internal
	return nil
}

// frame returns the top-level call of an entry, checked to belong to tx.
func (e *traceEntry) frame(tx *Tx) (*callFrame, error) {
	if e == nil {
		return nil, errors.New("null")
	}
	if e.TxHash != "" {
		h, err := parseHash(e.TxHash)
		if err != nil {
			return nil, fmt.Errorf("txHash: %w", err)
		}
		if h != tx.Hash {
			return nil, fmt.Errorf("txHash is %s: the traces are not in block order, or of another block", h)
		}
	}
	f := e.Result
	switch {
	case f != nil:
	case e.Type != "":
		f = &e.callFrame
	case e.Error != "":
		return nil, fmt.Errorf("the node could not trace it: %s", quote(e.Error))
	default:
		return nil, errors.New(`neither a call frame nor {"txHash", "result"}`)
	}
	if f.From != "" {
		from, err := parseAddress(f.From)
		if err != nil {
			return nil, fmt.Errorf("from: %w", err)
		}
		if from != tx.From {
			return nil, fmt.Errorf("the trace is of a call from %s, but the tx is from %s", from, tx.From)
		}
	}
	return f, nil
}

// walkFrame appends the value moved by f's nested calls (and by f, unless
// it is the top-level frame at address "") to out.
func walkFrame(f *callFrame, addr string, tx *Tx, out *[]InternalTransfer) error {
	if f.Error != "" {
		return nil // reverted, with all it called
	}
	if addr != "" {
		if err := frameTransfer(f, addr, tx, out); err != nil {
			return fmt.Errorf("call %s: %w", addr, err)
		}
	}
	for i := range f.Calls {
		child := strconv.Itoa(i)
		if addr != "" {
			child = addr + "." + child
		}
		if err := walkFrame(&f.Calls[i], child, tx, out); err != nil {
			return err
		}
	}
	return nil
}

func frameTransfer(f *callFrame, addr string, tx *Tx, out *[]InternalTransfer) error {
	callType, moves, err := callKind(f.Type)
	if err != nil {
		return err
	}
	// Old geth traced SELFDESTRUCT with its type only: no value to report.
	if !moves || f.Value == "" {
		return nil
	}
	v, err := parseBig(f.Value)
	if err != nil {
		return fmt.Errorf("value: %w", err)
	}
	if v.Sign() == 0 {
		return nil
	}
	from, err := parseAddress(f.From)
	if err != nil {
		return fmt.Errorf("from: %w", err)
	}
	to, err := parseAddress(f.To)
	if err != nil {
		return fmt.Errorf("to: %w", err)
	}
	*out = append(*out, InternalTransfer{
		TxHash: tx.Hash, TxIndex: tx.Index, TraceAddress: addr,
		CallType: callType, From: from, To: to, Value: v,
	})
	return nil
}

// callKind names a callTracer frame type in lower case and says whether
// such a call can move ether to another account. An unknown type is an
// error rather than a skip: it could be one that moves value.
func callKind(t string) (name string, movesValue bool, err error) {
	switch strings.ToUpper(t) {
	case "CALL":
		return "call", true, nil
	case "CREATE":
		return "create", true, nil
	case "CREATE2":
		return "create2", true, nil
	case "SELFDESTRUCT", "SUICIDE":
		return "selfdestruct", true, nil
	case "DELEGATECALL":
		return "delegatecall", false, nil
	case "STATICCALL":
		return "staticcall", false, nil
	case "CALLCODE":
		return "callcode", false, nil
	case "":
		return "", false, fmt.Errorf("type: %w", errMissing)
	default:
		return "", false, fmt.Errorf("type: unknown call type %s", quote(t))
	}
}
