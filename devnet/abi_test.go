package devnet

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"golang.org/x/crypto/sha3"

	"github.com/sluicepay/sluice/contracts"
)

func keccak(s string) []byte {
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte(s))
	return h.Sum(nil)
}

// abiSignatures lists "name(type,...)" for each function and event of a contract's ABI.
func abiSignatures(t *testing.T, contract string) (funcs, events map[string]bool) {
	t.Helper()
	art, err := contracts.Get(contract)
	if err != nil {
		t.Fatal(err)
	}
	var abi []struct {
		Type   string `json:"type"`
		Name   string `json:"name"`
		Inputs []struct {
			Type string `json:"type"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal(art.ABI, &abi); err != nil {
		t.Fatal(err)
	}
	funcs, events = map[string]bool{}, map[string]bool{}
	for _, e := range abi {
		types := make([]string, len(e.Inputs))
		for i, in := range e.Inputs {
			types[i] = in.Type
		}
		sig := e.Name + "(" + strings.Join(types, ",") + ")"
		switch e.Type {
		case "function":
			funcs[sig] = true
		case "event":
			events[sig] = true
		}
	}
	return funcs, events
}

// TestSelectors recomputes every hard-coded selector and topic and checks the
// function or event is in the embedded ABI, so the Go side cannot drift from
// the Solidity.
func TestSelectors(t *testing.T) {
	tokenFuncs, tokenEvents := abiSignatures(t, contracts.TetherToken)
	fwdFuncs, _ := abiSignatures(t, contracts.Forwarder)
	for _, c := range []struct {
		sel uint32
		sig string
		abi map[string]bool
	}{
		{selMint, "mint(address,uint256)", tokenFuncs},
		{selTransfer, "transfer(address,uint256)", tokenFuncs},
		{selBalanceOf, "balanceOf(address)", tokenFuncs},
		{selForward, "forward(address)", fwdFuncs},
		{selForwardBatch, "forwardBatch(address[],uint256[])", fwdFuncs},
		{selForwardToken, "forwardToken(address,address,uint256)", fwdFuncs},
		{selDecimals, "decimals()", tokenFuncs},
	} {
		if got := fmt.Sprintf("%08x", c.sel); got != hex.EncodeToString(keccak(c.sig)[:4]) {
			t.Errorf("%s: selector %s, keccak says %x", c.sig, got, keccak(c.sig)[:4])
		}
		if !c.abi[c.sig] {
			t.Errorf("%s is not in the contract's ABI", c.sig)
		}
	}
	for topic, sig := range map[string]string{
		TransferTopic: "Transfer(address,address,uint256)",
		ApprovalTopic: "Approval(address,address,uint256)",
	} {
		if want := "0x" + hex.EncodeToString(keccak(sig)); topic != want {
			t.Errorf("%s: topic %s, keccak says %s", sig, topic, want)
		}
		if !tokenEvents[sig] {
			t.Errorf("%s is not in TetherToken's ABI", sig)
		}
	}
	// The same calls and events on the USDC-like token.
	usdcFuncs, usdcEvents := abiSignatures(t, contracts.USDCToken)
	for _, sig := range []string{"mint(address,uint256)", "transfer(address,uint256)", "balanceOf(address)", "decimals()"} {
		if !usdcFuncs[sig] {
			t.Errorf("%s is not in USDCToken's ABI", sig)
		}
	}
	for _, sig := range []string{"Transfer(address,address,uint256)", "Approval(address,address,uint256)"} {
		if !usdcEvents[sig] {
			t.Errorf("%s is not in USDCToken's ABI", sig)
		}
	}
	// The mainnet-USDT shape: transfer, transferFrom and approve have no
	// outputs; the USDC (ERC-20) shape: one bool each.
	for contract, want := range map[string]string{contracts.TetherToken: "", contracts.USDCToken: "bool"} {
		art, _ := contracts.Get(contract)
		var abi []struct {
			Name    string `json:"name"`
			Outputs []struct {
				Type string `json:"type"`
			} `json:"outputs"`
		}
		if err := json.Unmarshal(art.ABI, &abi); err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, e := range abi {
			switch e.Name {
			case "transfer", "transferFrom", "approve":
				seen++
				var got []string
				for _, o := range e.Outputs {
					got = append(got, o.Type)
				}
				if strings.Join(got, ",") != want {
					t.Errorf("%s.%s returns (%s), want (%s)", contract, e.Name, strings.Join(got, ","), want)
				}
			}
		}
		if seen != 3 {
			t.Errorf("%s: found %d of transfer, transferFrom, approve in the ABI", contract, seen)
		}
	}
}

// TestCheckTransferReturn: nothing or true passes; false, and anything that
// is not one ABI bool, is refused.
func TestCheckTransferReturn(t *testing.T) {
	w := func(h string) []byte {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		ret  []byte
		want string // "" for no error
	}{
		{nil, ""},
		{[]byte{}, ""},
		{w(word(1)), ""},
		{w(word(0)), "returned false"},
		{w(word(2)), "not a bool"},
		{w("01" + strings.Repeat("00", 30) + "01"), "not a bool"},
		{w(word(1) + word(0)), "64 bytes"},
		{[]byte{1}, "1 bytes"},
	} {
		err := CheckTransferReturn(c.ret)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%x: %v, want %q", c.ret, err, c.want)
		}
	}
}

const (
	addrA = "0x00000000000000000000000000000000000000aa"
	addrB = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"
	wordA = "00000000000000000000000000000000000000000000000000000000000000aa"
	wordB = "000000000000000000000000abcdef0123456789abcdef0123456789abcdef01"
)

func word(n uint64) string { return fmt.Sprintf("%064x", n) }

func TestCalldata(t *testing.T) {
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	batch := func(to []string, amounts []*big.Int) ([]byte, error) {
		b, _, err := ForwardBatchCalldata(to, amounts)
		return b, err
	}
	for _, c := range []struct {
		name string
		got  func() ([]byte, error)
		want string
	}{
		{"transfer", func() ([]byte, error) { return TransferCalldata(addrB, big.NewInt(1_000_000)) },
			"a9059cbb" + wordB + word(1_000_000)},
		{"transfer max", func() ([]byte, error) { return TransferCalldata(addrA, max) },
			"a9059cbb" + wordA + strings.Repeat("f", 64)},
		{"transfer zero", func() ([]byte, error) { return TransferCalldata(addrA, new(big.Int)) },
			"a9059cbb" + wordA + word(0)},
		{"mint", func() ([]byte, error) { return MintCalldata(addrA, big.NewInt(0x1234)) },
			"40c10f19" + wordA + word(0x1234)},
		{"balanceOf", func() ([]byte, error) { return BalanceOfCalldata(addrB) },
			"70a08231" + wordB},
		{"forward", func() ([]byte, error) { return ForwardCalldata(addrA) },
			"101e8952" + wordA},
		{"forwardToken", func() ([]byte, error) { return ForwardTokenCalldata(addrA, addrB, big.NewInt(7)) },
			"60a8d7a5" + wordA + wordB + word(7)},
		{"forwardBatch 2", func() ([]byte, error) {
			return batch([]string{addrA, addrB}, []*big.Int{big.NewInt(1), big.NewInt(2)})
		}, "63ee6fd6" + word(0x40) + word(0xa0) + word(2) + wordA + wordB + word(2) + word(1) + word(2)},
		{"forwardBatch empty", func() ([]byte, error) { return batch(nil, nil) },
			"63ee6fd6" + word(0x40) + word(0x60) + word(0) + word(0)},

		{"short address", func() ([]byte, error) { return TransferCalldata("0x1234", big.NewInt(1)) }, ""},
		{"no 0x", func() ([]byte, error) { return TransferCalldata(wordA[24:], big.NewInt(1)) }, ""},
		{"not hex", func() ([]byte, error) { return TransferCalldata("0x"+strings.Repeat("g", 40), big.NewInt(1)) }, ""},
		{"negative", func() ([]byte, error) { return TransferCalldata(addrA, big.NewInt(-1)) }, ""},
		{"2**256", func() ([]byte, error) { return TransferCalldata(addrA, new(big.Int).Add(max, big.NewInt(1))) }, ""},
		{"nil amount", func() ([]byte, error) { return MintCalldata(addrA, nil) }, ""},
		{"bad token", func() ([]byte, error) { return ForwardTokenCalldata("0x", addrB, big.NewInt(1)) }, ""},
		{"batch lengths", func() ([]byte, error) { return batch([]string{addrA}, nil) }, ""},
		{"batch overflow", func() ([]byte, error) { return batch([]string{addrA, addrB}, []*big.Int{max, big.NewInt(1)}) }, ""},
		{"batch bad address", func() ([]byte, error) { return batch([]string{"0x00"}, []*big.Int{big.NewInt(1)}) }, ""},
	} {
		got, err := c.got()
		if c.want == "" {
			if err == nil {
				t.Errorf("%s: no error, got %x", c.name, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		} else if hex.EncodeToString(got) != c.want {
			t.Errorf("%s:\n got %x\nwant %s", c.name, got, c.want)
		}
	}
	_, total, err := ForwardBatchCalldata([]string{addrA, addrB}, []*big.Int{big.NewInt(5), big.NewInt(6)})
	if err != nil || total.Int64() != 11 {
		t.Errorf("forwardBatch total = %v, %v; want 11", total, err)
	}
}

func TestDecodeReceipt(t *testing.T) {
	raw := `{"transactionHash":"0xAB","status":"0x1","blockHash":"0xCD","blockNumber":"0x10",
		"transactionIndex":"0x0","from":"0xF0","to":null,"contractAddress":"0xC0","gasUsed":"0x5208",
		"logs":[{"address":"0xT0","topics":["0xDDF2"],"data":"0x","logIndex":"0x3"}]}`
	r, err := decodeReceipt([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 1 || r.BlockNumber != 16 || r.GasUsed != 21000 || r.To != "" || r.ContractAddress != "0xc0" ||
		r.TxHash != "0xab" || len(r.Logs) != 1 || r.Logs[0].LogIndex != 3 || r.Logs[0].Topics[0] != "0xddf2" {
		t.Errorf("decoded %+v", r)
	}
	for _, bad := range []string{`{"status":1}`, `{"status":"1"}`, `{"status":"0x"}`, `{"blockNumber":"0x1ffffffffffffffff"}`, `[]`} {
		if _, err := decodeReceipt([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func FuzzDecodeReceipt(f *testing.F) {
	f.Add([]byte(`{"status":"0x1","blockNumber":"0x10","logs":[{"topics":["0x1"],"logIndex":"0x0"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeReceipt(b) // must not panic
	})
}
