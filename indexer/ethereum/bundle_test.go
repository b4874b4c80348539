package ethereum

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func envelope(result any) obj { return obj{"jsonrpc": "2.0", "id": 7, "result": result} }

func TestParseBundle(t *testing.T) {
	block, receipts := fixture()
	traces := fixtureTraces()
	b64 := func(v any) string { return base64.StdEncoding.EncodeToString(mustJSON(t, v)) }
	b64s := func(vs []any) []any {
		var out []any
		for _, v := range vs {
			out = append(out, b64(v))
		}
		return out
	}
	wrapEach := func(vs []any) []any {
		var out []any
		for _, v := range vs {
			out = append(out, envelope(v))
		}
		return out
	}
	tests := []struct {
		name         string
		file         any
		noReceipts   bool
		withTraces   bool
		wantInternal int
	}{
		{name: "block and receipts", file: obj{"block": block, "receipts": receipts}},
		{name: "with traces", file: obj{"block": block, "receipts": receipts, "traces": traces}, withTraces: true},
		{name: "null traces", file: obj{"block": block, "receipts": receipts, "traces": nil}},
		{name: "envelopes inside", file: obj{"block": envelope(block), "receipts": envelope(wrapEach(receipts)), "traces": envelope(traces)}, withTraces: true},
		{name: "each receipt wrapped", file: obj{"block": block, "receipts": wrapEach(receipts)}},
		{name: "envelope around all", file: envelope(obj{"block": block, "receipts": receipts})},
		{name: "bare block", file: block, noReceipts: true},
		{name: "bare block in envelope", file: envelope(block), noReceipts: true},
		{name: "ethereum-etl's envelope without jsonrpc", file: obj{"result": block}, noReceipts: true},
		{name: "chainstorage", file: obj{
			"blockchain": "BLOCKCHAIN_ETHEREUM", "metadata": obj{"hash": fxBlockHash},
			"ethereum": obj{"header": b64(block), "transactionReceipts": b64s(receipts), "transactionTraces": b64s(traces)},
		}, withTraces: true},
		{name: "chainstorage without traces", file: obj{"ethereum": obj{"header": b64(block), "transactionReceipts": b64s(receipts)}}},
	}
	want := render(t, fixtureWant())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bu, err := ParseBundle(mustJSON(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if tt.noReceipts {
				if bu.Receipts != nil {
					t.Fatalf("receipts %s", bu.Receipts)
				}
				bu.Receipts = mustJSON(t, receipts)
			}
			if (bu.Traces != nil) != tt.withTraces {
				t.Fatalf("traces = %.40s, want some: %v", bu.Traces, tt.withTraces)
			}
			b, err := DecodeBlock(bu.Block, bu.Receipts)
			if err != nil {
				t.Fatal(err)
			}
			if got := render(t, b); got != want {
				t.Errorf("decoded block differs\n got: %s\nwant: %s", got, want)
			}
			if tt.withTraces {
				if err := DecodeTraces(bu.Traces, b); err != nil {
					t.Fatal(err)
				}
				if len(b.Internal) != 4 {
					t.Errorf("%d internal transfers, want 4", len(b.Internal))
				}
			}
		})
	}
}

func TestParseBundleErrors(t *testing.T) {
	block, receipts := fixture()
	b64 := func(v any) string { return base64.StdEncoding.EncodeToString(mustJSON(t, v)) }
	tests := []struct {
		name string
		file string
		want string
	}{
		{"empty", "  \n", "empty"},
		{"array", `[1,2]`, "a JSON array where a block or an object holding one belongs"},
		{"truncated", `{"block": {"hash": "0x`, "not valid JSON: unexpected end of JSON input"},
		{"unknown object", `{"foo": 1}`, `neither a block`},
		{"binary", "\x01\x00\x00\x00\xf9\xbe", "not valid JSON"},
		{"RPC error", `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"header not found"}}`, "JSON-RPC error -32000: header not found"},
		{"RPC null result", `{"jsonrpc":"2.0","id":1,"result":null}`, "result is null"},
		{"RPC error in receipts", string(mustJSON(t, obj{"block": block, "receipts": []any{receipts[0], obj{"jsonrpc": "2.0", "id": 2, "error": obj{"code": -32601, "message": "no such method"}}}})),
			"receipts: [1]: JSON-RPC error -32601: no such method"},
		{"chainstorage bad base64", `{"ethereum": {"header": "!!!"}}`, "chainstorage block: illegal base64"},
		{"chainstorage no header", `{"ethereum": {"transactionReceipts": []}}`, "ethereum.header: missing"},
		{"chainstorage header not JSON", `{"ethereum": {"header": "` + base64.StdEncoding.EncodeToString([]byte("{nope")) + `"}}`, "ethereum.header is not base64 of JSON"},
		{"chainstorage receipt not JSON", string(mustJSON(t, obj{"ethereum": obj{"header": b64(block),
			"transactionReceipts": []any{b64(receipts[0]), base64.StdEncoding.EncodeToString([]byte(`{"a":`))}}})),
			"ethereum.transactionReceipts[1] is not base64 of JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBundle([]byte(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestUnwrapRPC(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"jsonrpc":"2.0","id":1,"result":{"a":1}}`, `{"a":1}`},
		{`{"result":[1]}`, `[1]`},
		{`{"result":{"a":1},"extra":2}`, `{"result":{"a":1},"extra":2}`},                                 // not an envelope
		{`{"type":"CALL","error":"execution reverted"}`, `{"type":"CALL","error":"execution reverted"}`}, // a call frame
		{`[{"jsonrpc":"2.0","id":1,"result":{"a":1}},{"b":2}]`, `[{"a":1},{"b":2}]`},
		{"[ \n {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"a\":1}} ]", `[{"a":1}]`},
		{`{"jsonrpc":"2.0","id":1,"result":[{"jsonrpc":"2.0","id":1,"result":{"a":1}}]}`, `[{"a":1}]`},
		{` [1, 2] `, `[1, 2]`},
		{`"0x1"`, `"0x1"`},
	}
	for _, tt := range tests {
		got, err := UnwrapRPC(json.RawMessage(tt.in))
		if err != nil {
			t.Errorf("UnwrapRPC(%s): %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("UnwrapRPC(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
