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
	if _, err := New(testConfig(config.Token{Symbol: "SHIB", Address: "0x1", Decimals: 18})); err == nil || !strings.Contains(err.Error(), "SHIB") ||
		!strings.Contains(err.Error(), "chains.eth.tokens[0].key_branch") {
		t.Fatalf("a token sluice does not know, without a key branch: %v", err)
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

func TestFamilyOf(t *testing.T) {
	for key, want := range map[string]Family{"btc": Bitcoin, "ltc": Bitcoin, "eth": EVM, "polygon": EVM} {
		if got := FamilyOf(key); got != want {
			t.Errorf("FamilyOf(%q) = %s, want %s", key, got, want)
		}
	}
}

func branch(b int64) *int64 { return &b }

// TestRegistryCustomToken: a token sluice has no built-in properties for is
// taken with the key branch the configuration gives it, ETH's
// confirmations, its symbol as rate id and a minimum of one token, unless
// the configuration sets them; a built-in token may set its confirmations
// and rate id, and repeat its own key branch.
func TestRegistryCustomToken(t *testing.T) {
	r, err := New(testConfig(
		config.Token{Symbol: "USDT", Address: "0xABC", Decimals: 6, KeyBranch: branch(1), Confirmations: 20, RateID: "none"},
		config.Token{Symbol: "DAI", Address: "0x6B175474E89094C44Da98b954EedeAC495271d0F", Decimals: 18, KeyBranch: branch(3)},
		config.Token{Symbol: "EURC", Address: "0xfed", Decimals: 6, KeyBranch: branch(1<<31 - 1), Confirmations: 30, RateID: "EUROC"},
	))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Codes(), " "); got != "BTC LTC ETH USDT DAI EURC" {
		t.Fatalf("codes %q", got)
	}
	for _, want := range []Currency{
		{Code: "USDT", Chain: "eth", Family: EVM, Decimals: 6, Confirmations: 20, Contract: "0xabc", RateID: "none", Minimum: "1", KeyBranch: 1},
		{Code: "DAI", Chain: "eth", Family: EVM, Decimals: 18, Confirmations: 12, Contract: "0x6b175474e89094c44da98b954eedeac495271d0f",
			RateID: "DAI", Minimum: "1", KeyBranch: 3},
		{Code: "EURC", Chain: "eth", Family: EVM, Decimals: 6, Confirmations: 30, Contract: "0xfed", RateID: "EUROC", Minimum: "1", KeyBranch: 1<<31 - 1},
	} {
		if c, ok := r.Currency(want.Code); !ok || c != want {
			t.Errorf("%s: %+v, want %+v", want.Code, c, want)
		}
		if f, ok := r.FeeCurrency(want.Code); !ok || f.Code != "ETH" {
			t.Errorf("%s: fee currency %+v", want.Code, f)
		}
	}
}

// TestRegistryKeyBranches: every way a token could land on another
// currency's deposit keys, or move its own, is refused at the token's key,
// and the other tokens are still taken.
func TestRegistryKeyBranches(t *testing.T) {
	dai := func(b *int64) config.Token {
		return config.Token{Symbol: "DAI", Address: "0xda1", Decimals: 18, KeyBranch: b}
	}
	for _, tc := range []struct {
		name   string
		tokens []config.Token
		key    string
		msg    string
		codes  string // what the registry still holds
	}{
		{"no branch", []config.Token{dai(nil)}, "chains.eth.tokens[0].key_branch", "missing: DAI is not a built-in token (USDT, USDC)", "ETH"},
		{"no branch, a suggestion past the taken ones", []config.Token{{Symbol: "WBTC", Address: "0xb", Decimals: 8, KeyBranch: branch(3)}, dai(nil)},
			"chains.eth.tokens[1].key_branch", "e.g. key_branch: 4", "ETH WBTC"},
		{"ETH's branch", []config.Token{dai(branch(0))}, "chains.eth.tokens[0].key_branch", "0 is ETH's branch", "ETH"},
		{"USDT's branch, USDT not configured", []config.Token{dai(branch(1))}, "chains.eth.tokens[0].key_branch", "1 is USDT's branch", "ETH"},
		{"USDC's branch, USDC configured", []config.Token{{Symbol: "USDC", Address: "0xc", Decimals: 6}, dai(branch(2))},
			"chains.eth.tokens[1].key_branch", "2 is USDC's branch", "ETH USDC"},
		{"negative", []config.Token{dai(branch(-3))}, "chains.eth.tokens[0].key_branch", "-3 is not a deposit key branch", "ETH"},
		{"hardened", []config.Token{dai(branch(1 << 31))}, "chains.eth.tokens[0].key_branch", "2147483648 is not a deposit key branch", "ETH"},
		{"two tokens on one branch", []config.Token{dai(branch(7)), {Symbol: "WBTC", Address: "0xb", Decimals: 8, KeyBranch: branch(7)}},
			"chains.eth.tokens[1].key_branch", "DAI and WBTC would share deposit keys (branch 7)", "ETH DAI"},
		{"a built-in moved", []config.Token{{Symbol: "USDT", Address: "0xa", Decimals: 6, KeyBranch: branch(3)}, dai(branch(4))},
			"chains.eth.tokens[0].key_branch", "USDT's deposit keys are on branch 1, which a configuration cannot change", "ETH DAI"},
		{"a built-in moved to 0", []config.Token{{Symbol: "USDC", Address: "0xc", Decimals: 6, KeyBranch: branch(0)}},
			"chains.eth.tokens[0].key_branch", "USDC's deposit keys are on branch 2", "ETH"},
		{"another chain's coin", []config.Token{{Symbol: "BTC", Address: "0xb", Decimals: 8, KeyBranch: branch(3)}},
			"chains.eth.tokens[0].symbol", "BTC is the code of btc's own coin", "ETH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(tc.tokens...)
			cfg.Chains.BTC, cfg.Chains.LTC = nil, nil
			r, ps := build(cfg)
			if len(ps) != 1 || ps[0].Key != tc.key || !strings.Contains(ps[0].Msg, tc.msg) {
				t.Fatalf("problems %+v, want %s: %s", ps, tc.key, tc.msg)
			}
			if got := strings.Join(r.Codes(), " "); got != tc.codes {
				t.Fatalf("codes %q, want %q", got, tc.codes)
			}
			if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("New: %v", err)
			}
		})
	}
	// a built-in repeating its own branch is no problem
	if _, err := New(testConfig(config.Token{Symbol: "USDC", Address: "0xc", Decimals: 6, KeyBranch: branch(2)})); err != nil {
		t.Fatal(err)
	}
}

// TestCheckConfiguredTokenSettings: a configured token's withdrawal minimum
// is checked against its own decimals and its fee address is taken; a
// currency neither configured nor built in is refused.
func TestCheckConfiguredTokenSettings(t *testing.T) {
	cfg := testConfig(config.Token{Symbol: "GUSD", Address: "0x1", Decimals: 2, KeyBranch: branch(3)})
	cfg.Sweeps.WithdrawalMinimum = map[string]string{"GUSD": "0.001", "SHIB": "1"}
	cfg.Sweeps.FeeAddresses = map[string]string{"GUSD": "0x1", "DOGE": "D1"}
	var got []string
	for _, p := range Check(cfg) {
		got = append(got, p.Key+": "+p.Msg)
	}
	want := []string{
		`sweeps.withdrawal_minimum.GUSD: "0.001" must be an exact decimal such as 0.001, with at most 2 decimals`,
		`sweeps.withdrawal_minimum.SHIB: currency "SHIB" is not one sluice takes (configured here: BTC, LTC, ETH, GUSD)`,
		`sweeps.fee_addresses.DOGE: currency "DOGE": one of BTC, LTC, ETH, USDT, USDC, or a configured token`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRegistryEVMChains: a chains.evm section is a chain of the EVM family
// whose coin and tokens are coded SYMBOL_KEY; a built-in token keeps its
// key branch and rate id there, others need their own branch; its gas is
// paid in its own coin.
func TestRegistryEVMChains(t *testing.T) {
	cfg := testConfig(config.Token{Symbol: "USDT", Address: "0xabc", Decimals: 6})
	three := int64(3)
	cfg.Chains.ETH.Confirmations = 20
	cfg.Chains.EVM = map[string]*config.Ethereum{"polygon": {Network: "mainnet", ChainID: 137, Confirmations: 64,
		Native: &config.Native{Symbol: "POL", Decimals: 18},
		Tokens: []config.Token{{Symbol: "USDT", Address: "0xC2132D05D31c914a87C6611C10748AEb04B58e8F", Decimals: 6},
			{Symbol: "WETH", Address: "0x7ceb23fd6bc0add59e62ac25578270cff1b9f619", Decimals: 18, KeyBranch: &three}}}}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Codes(), " "); got != "BTC LTC ETH USDT POL_POLYGON USDT_POLYGON WETH_POLYGON" {
		t.Fatalf("codes %q", got)
	}
	if eth, _ := r.Currency("ETH"); eth.Confirmations != 20 {
		t.Errorf("chains.eth.confirmations not applied: %+v", eth)
	}
	ch, ok := r.Chain("polygon")
	if !ok || ch.Family != EVM || ch.Native != "POL_POLYGON" || FamilyOf("polygon") != EVM {
		t.Fatalf("polygon %+v", ch)
	}
	pol, _ := r.Currency("POL_POLYGON")
	usdt, _ := r.Currency("USDT_POLYGON")
	weth, _ := r.Currency("WETH_POLYGON")
	if pol.Decimals != 18 || pol.Confirmations != 64 || pol.KeyBranch != 0 || pol.IsToken() || pol.RateID != "POL" {
		t.Errorf("POL_POLYGON %+v", pol)
	}
	if usdt.Chain != "polygon" || usdt.KeyBranch != 1 || usdt.RateID != "USDT" || usdt.Contract != "0xc2132d05d31c914a87c6611c10748aeb04b58e8f" {
		t.Errorf("USDT_POLYGON %+v", usdt)
	}
	if weth.KeyBranch != 3 || weth.Confirmations != 64 {
		t.Errorf("WETH_POLYGON %+v", weth)
	}
	if f, _ := r.FeeCurrency("USDT_POLYGON"); f.Code != "POL_POLYGON" {
		t.Errorf("USDT_POLYGON's gas in %s", f.Code)
	}
	if tok := r.Tokens("polygon"); tok["0xc2132d05d31c914a87c6611c10748aeb04b58e8f"] != "USDT_POLYGON" || len(tok) != 2 {
		t.Errorf("polygon tokens %v", tok)
	}
	// a token that is not built in needs its branch there too
	cfg.Chains.EVM["polygon"].Tokens[1].KeyBranch = nil
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "chains.evm.polygon.tokens[1].key_branch") {
		t.Fatalf("a polygon token without a branch: %v", err)
	}
}
