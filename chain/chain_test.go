package chain

import (
	"strings"
	"testing"

	"github.com/sluicepay/sluice/config"
)

func enabled(b bool) *bool { return &b }

func testConfig(tokens ...config.Token) *config.Config {
	return &config.Config{Chains: config.Chains{
		BTC: &config.Bitcoin{Network: "regtest"},
		LTC: &config.Bitcoin{Network: "regtest", Enabled: enabled(true)},
		ETH: &config.Ethereum{Network: "dev", Tokens: tokens},
	}}
}

// TestRegistryFromConfig: the configured chains and tokens, each with the
// built-in properties of its name and the configured contract and decimals.
func TestRegistryFromConfig(t *testing.T) {
	r, err := New(testConfig(config.Token{Symbol: "USDT", Address: "0xABC", Decimals: 6}, config.Token{Symbol: "USDC", Address: "0xdef", Decimals: 6}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Codes(), " "); got != "BTC LTC ETH USDT USDC" {
		t.Fatalf("codes %q", got)
	}
	for _, tc := range []struct {
		code          string
		chain         string
		family        Family
		decimals      int
		confirmations int
		branch        uint32
		contract      string
		fee           string
	}{
		{"BTC", "btc", Bitcoin, 8, 2, 0, "", "BTC"},
		{"LTC", "ltc", Bitcoin, 8, 6, 0, "", "LTC"},
		{"ETH", "eth", EVM, 18, 12, 0, "", "ETH"},
		{"USDT", "eth", EVM, 6, 12, 1, "0xabc", "ETH"},
		{"USDC", "eth", EVM, 6, 12, 2, "0xdef", "ETH"},
	} {
		c, ok := r.Currency(tc.code)
		if !ok || c.Chain != tc.chain || c.Family != tc.family || c.Decimals != tc.decimals || c.Confirmations != tc.confirmations ||
			c.KeyBranch != tc.branch || c.Contract != tc.contract || c.IsToken() != (tc.contract != "") {
			t.Errorf("%s: %+v", tc.code, c)
		}
		if f, ok := r.FeeCurrency(tc.code); !ok || f.Code != tc.fee {
			t.Errorf("%s: fee currency %+v", tc.code, f)
		}
	}
	if evm := r.Chains(EVM); len(evm) != 1 || evm[0].Key != "eth" || evm[0].Network != "dev" {
		t.Fatalf("EVM chains %+v", evm)
	}
	if on := r.OnChain("eth"); len(on) != 3 || on[0].Code != "ETH" {
		t.Fatalf("on eth %+v", on)
	}
	if _, ok := r.Currency("DOGE"); ok {
		t.Fatal("an unknown currency was found")
	}
}

// TestRegistryRefuses: a token sluice has no properties for, and a chain
// not enabled, are not in the registry.
func TestRegistryRefuses(t *testing.T) {
	if _, err := New(testConfig(config.Token{Symbol: "SHIB", Address: "0x1", Decimals: 18})); err == nil || !strings.Contains(err.Error(), "SHIB") {
		t.Fatalf("an unknown token: %v", err)
	}
	cfg := testConfig()
	cfg.Chains.LTC.Enabled = enabled(false)
	cfg.Chains.BTC = nil
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Codes(), " "); got != "ETH" {
		t.Fatalf("codes %q", got)
	}
	if _, ok := r.Chain("ltc"); ok {
		t.Fatal("a disabled chain is in the registry")
	}
}
