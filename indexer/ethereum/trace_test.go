package ethereum

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"
)

// fixtureTraces is a callTracer answer for the fixture block: a call tree
// for tx 1 that exercises every rule, a failed tx 2 whose calls moved value
// before the revert, and plain frames for the rest.
func fixtureTraces() []any {
	frame := func(typ, from, to, value string, calls ...any) obj {
		f := obj{"type": typ, "from": from, "to": to, "gas": "0x0", "gasUsed": "0x0", "input": "0x"}
		if value != "" {
			f["value"] = value
		}
		if len(calls) > 0 {
			f["calls"] = calls
		}
		return f
	}
	reverted := func(f obj) obj { f["error"] = "execution reverted"; return f }
	a := addr20
	tx1 := frame("CALL", a(0x21), fxToken, "0x5",
		// 0: pays 1, then its DELEGATECALL (showing the caller's value,
		// as geth does) makes a CALL in the caller's name
		frame("CALL", fxToken, a(0x70), "0x1",
			frame("DELEGATECALL", a(0x70), a(0x71), "0x1",
				frame("CALL", a(0x70), a(0x72), "0x2"))),
		// 1: reverted with what it called
		reverted(frame("CALL", fxToken, a(0x73), "0x3",
			frame("CALL", a(0x73), a(0x74), "0x4"))),
		// 2: no value field at all
		frame("STATICCALL", fxToken, a(0x75), ""),
		// 3: creates a contract with an endowment above 2^128
		frame("CREATE2", fxToken, a(0x76), bigHex(fxBigValue())),
		// 4: CALLCODE pays its value to itself
		frame("CALLCODE", fxToken, a(0x77), "0x9"),
		// 5: zero value
		frame("CALL", fxToken, a(0x78), "0x0"),
		// 6: lower-case type, from a client that prints them so
		frame("selfdestruct", fxToken, a(0x79), "0x8"),
		// 7: old geth's SELFDESTRUCT: type only
		obj{"type": "SELFDESTRUCT"},
		// 8: a reverted CREATE
		reverted(frame("CREATE", fxToken, a(0x7a), "0x6")),
	)
	tx2 := frame("CALL", a(0x23), fxToken, "0x0", frame("CALL", fxToken, a(0x7b), "0x7"))
	tx2["error"] = "execution reverted"
	return []any{
		// geth >= 1.11: {"txHash", "result"}
		obj{"txHash": hash32(0x10), "result": frame("CALL", fxSenderMixed, a(0x20), "0xde0b6b3a7640000")},
		obj{"txHash": hash32(0x11), "result": tx1},
		// older geth: bare frames
		tx2,
		frame("CREATE", a(0x24), fxCreated, "0x0"),
		// ethereum-etl's fixtures: "result" without "txHash"
		obj{"result": frame("CALL", a(0x25), a(0x50), bigHex(fxBlobValue()))},
		obj{"txHash": hash32(0x15), "result": frame("CALL", a(0x26), a(0x26), "0x0")},
	}
}

func fixtureBlock(t *testing.T) *Block {
	t.Helper()
	block, receipts := fixture()
	b, err := decodeFixture(t, block, receipts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeTracesFixture(t *testing.T) {
	b := fixtureBlock(t)
	if err := DecodeTraces(mustJSON(t, fixtureTraces()), b); err != nil {
		t.Fatal(err)
	}
	it := func(addr, typ, from, to string, v *big.Int) InternalTransfer {
		return InternalTransfer{TxHash: hash32(0x11), TxIndex: 1, TraceAddress: addr, CallType: typ, From: from, To: to, Value: v}
	}
	want := []InternalTransfer{
		it("0", "call", fxToken, addr20(0x70), big.NewInt(1)),
		it("0.0.0", "call", addr20(0x70), addr20(0x72), big.NewInt(2)),
		it("3", "create2", fxToken, addr20(0x76), fxBigValue()),
		it("6", "selfdestruct", fxToken, addr20(0x79), big.NewInt(8)),
	}
	if g, w := render(t, b.Internal), render(t, want); g != w {
		t.Errorf("internal transfers differ\n got: %s\nwant: %s", g, w)
	}
}

func TestDecodeTracesNothingMoved(t *testing.T) {
	b := fixtureBlock(t)
	traces := fixtureTraces()
	traces[1] = obj{"type": "CALL", "from": addr20(0x21), "to": fxToken, "value": "0x0"}
	if err := DecodeTraces(mustJSON(t, traces), b); err != nil {
		t.Fatal(err)
	}
	if b.Internal == nil || len(b.Internal) != 0 {
		t.Errorf("Internal = %#v, want empty and not nil (traced)", b.Internal)
	}
}

func TestDecodeTracesMalformed(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(traces []any) any
		want   []string
	}{
		{"not an array", func(tr []any) any { return obj{"result": tr} }, []string{"traces:", "cannot unmarshal object"}},
		{"null", func(tr []any) any { return nil }, []string{"traces: the answer is null"}},
		{"one short", func(tr []any) any { return tr[:5] }, []string{"5 of them for the 6 transactions"}},
		{"null entry", func(tr []any) any { tr[3] = nil; return tr }, []string{"traces[3] (tx " + hash32(0x13) + "): null"}},
		{"tx hash of another tx", func(tr []any) any {
			tr[0].(obj)["txHash"] = hash32(0x11)
			return tr
		}, []string{"traces[0]", "txHash is " + hash32(0x11)}},
		{"bad tx hash", func(tr []any) any { tr[0].(obj)["txHash"] = "0x01"; return tr }, []string{"traces[0]", "txHash:"}},
		{"trace of another sender", func(tr []any) any {
			tr[3].(obj)["from"] = addr20(0x99)
			return tr
		}, []string{"traces[3]", "call from " + addr20(0x99) + ", but the tx is from " + addr20(0x24)}},
		{"tracing failed", func(tr []any) any {
			tr[5] = obj{"txHash": hash32(0x15), "error": "execution timeout"}
			return tr
		}, []string{"traces[5]", "could not trace it", "execution timeout"}},
		{"neither shape", func(tr []any) any { tr[5] = obj{"foo": 1}; return tr }, []string{"traces[5]", "neither a call frame"}},
		{"unknown call type", func(tr []any) any {
			calls := tr[1].(obj)["result"].(obj)["calls"].([]any)
			calls[5].(obj)["type"] = "EXTCALL"
			return tr
		}, []string{"traces[1] (tx " + hash32(0x11) + "): call 5: type: unknown call type \"EXTCALL\""}},
		{"nested frame without type", func(tr []any) any {
			calls := tr[1].(obj)["result"].(obj)["calls"].([]any)
			delete(calls[5].(obj), "type")
			return tr
		}, []string{"call 5: type: missing"}},
		{"value 2^300", func(tr []any) any {
			calls := tr[1].(obj)["result"].(obj)["calls"].([]any)
			calls[0].(obj)["value"] = "0x1" + strings.Repeat("0", 75)
			return tr
		}, []string{"call 0: value:", "256 bits"}},
		{"value not hex", func(tr []any) any {
			calls := tr[1].(obj)["result"].(obj)["calls"].([]any)
			calls[3].(obj)["value"] = "12"
			return tr
		}, []string{"call 3: value:"}},
		{"moving frame without to", func(tr []any) any {
			calls := tr[1].(obj)["result"].(obj)["calls"].([]any)
			delete(calls[6].(obj), "to")
			return tr
		}, []string{"call 6: to: missing"}},
		{"deep bad frame", func(tr []any) any {
			calls := tr[1].(obj)["result"].(obj)["calls"].([]any)
			inner := calls[0].(obj)["calls"].([]any)[0].(obj)["calls"].([]any)[0].(obj)
			inner["from"] = "nope"
			return tr
		}, []string{"call 0.0.0: from:"}},
		{"truncated", nil, []string{"traces:", "unexpected end of JSON input"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := fixtureBlock(t)
			before := render(t, b)
			var raw json.RawMessage
			if tt.mutate == nil {
				full := mustJSON(t, fixtureTraces())
				raw = full[:len(full)-10]
			} else {
				raw = mustJSON(t, tt.mutate(deepCopy(t, fixtureTraces())))
			}
			err := DecodeTraces(raw, b)
			if err == nil {
				t.Fatalf("no error; %d internal transfers", len(b.Internal))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if after := render(t, b); after != before {
				t.Errorf("the block changed on error")
			}
		})
	}
	if err := DecodeTraces(json.RawMessage("[]"), nil); err == nil {
		t.Error("a nil block gave no error")
	}
}

// A failed tx's trace is checked for its shape but moves nothing, whatever
// its frames say: the second tx of the fixture has a nested CALL of 7 under
// a reverted top frame, and its receipt says failed.
func TestDecodeTracesFailedTxSkipped(t *testing.T) {
	b := fixtureBlock(t)
	traces := fixtureTraces()
	delete(traces[2].(obj), "error") // the receipt alone must be enough
	if err := DecodeTraces(mustJSON(t, traces), b); err != nil {
		t.Fatal(err)
	}
	for _, it := range b.Internal {
		if it.TxHash == hash32(0x12) {
			t.Errorf("internal transfer from failed tx: %+v", it)
		}
	}
}
