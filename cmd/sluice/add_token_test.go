package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/internal/testenv"
	"github.com/sluicepay/sluice/internal/testledger"
	"github.com/sluicepay/sluice/payments"
)

// operationsDoc is docs/operations.md.
func operationsDoc(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// docSnippet is the YAML block docs/operations.md marks <!-- sluice:NAME -->, unindented.
func docSnippet(t *testing.T, name string) string {
	t.Helper()
	_, after, ok := strings.Cut(operationsDoc(t), "<!-- sluice:"+name+" -->")
	if !ok {
		t.Fatalf("docs/operations.md has no <!-- sluice:%s --> block", name)
	}
	_, after, ok = strings.Cut(after, "```yaml\n")
	block, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatalf("the %s marker is not followed by a yaml block", name)
	}
	lines := strings.Split(block, "\n")
	indent := len(lines[0]) - len(strings.TrimLeft(lines[0], " "))
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, strings.Repeat(" ", indent))
	}
	return strings.Join(lines, "\n")
}

// documentedConfig lays the YAML block docs/operations.md marks
// <!-- sluice:NAME --> (and then over, when set) on the stack's
// configuration, writes it to a directory of the test's and checks that
// "sluice config check" and every command accept it; it returns the
// directory, the file's text and the configuration the commands load.
func documentedConfig(t *testing.T, name string, over map[string]any) (dir, text string, loaded *config.Config) {
	t.Helper()
	dir = t.TempDir()
	var cfg, snippet map[string]any
	good := strings.Replace(stackConfig, "SEED", writeFile(t, dir, "seed", testMnemonic, 0o600), 1)
	if err := yaml.Unmarshal([]byte(good), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(docSnippet(t, name)), &snippet); err != nil {
		t.Fatalf("the documented %s block is not YAML: %v", name, err)
	}
	mergeYAML(cfg, snippet)
	if over != nil {
		mergeYAML(cfg, over)
	}
	var merged bytes.Buffer
	if err := yaml.NewEncoder(&merged).Encode(cfg); err != nil {
		t.Fatal(err)
	}
	text = merged.String()
	file := writeFile(t, dir, "sluice.yaml", text, 0o600)
	if out, err := runConfigCheck(t, file); err != nil {
		t.Fatalf("config check of the documented configuration: %v %s\n%s", err, out, text)
	}
	t.Setenv("SLUICE_CONFIG", file)
	for _, c := range commands(newRootCmd()) {
		if _, err := loadConfig(c); err != nil {
			t.Fatalf("%s refuses the documented configuration: %v", c.CommandPath(), err)
		}
	}
	loaded, err := loadConfigFile(file, needSeed|needSecrets|needChain)
	if err != nil {
		t.Fatal(err)
	}
	return dir, text, loaded
}

// mergeYAML lays over onto base: maps merge key by key, anything else
// (lists too) is replaced, as an operator edits a file.
func mergeYAML(base, over map[string]any) {
	for k, v := range over {
		if vm, ok := v.(map[string]any); ok {
			if bm, ok := base[k].(map[string]any); ok {
				mergeYAML(bm, vm)
				continue
			}
		}
		base[k] = v
	}
}

// TestAddTokenAsDocumented follows docs/operations.md, "An ERC-20 token on
// Ethereum": the decimals() call of step 1 answers a token's decimals on the
// stack's geth; the configuration lines of step 2, added to the stack's
// configuration, pass "sluice config check" (step 3) and every command, and
// give a registry with DAI as documented; the first process started (step
// 4) records it in the ledger, and a configuration changing its decimals
// is then refused with the message the page quotes.
func TestAddTokenAsDocumented(t *testing.T) {
	rpc, usdc := testenv.Get(t, "SLUICE_ETH_RPC"), testenv.Get(t, "SLUICE_USDC_CONTRACT")
	db := testledger.Fresh(t)
	clearEnv(t) // the files alone decide the configuration
	doc := operationsDoc(t)

	// step 1: the documented eth_call, to the stack's USDC (6 decimals)
	body := regexp.MustCompile(`--data \\\n\s*'(\{.*\})'`).FindStringSubmatch(doc)
	if body == nil {
		t.Fatal("docs/operations.md has no decimals() call")
	}
	call := strings.Replace(body[1], "0x6b175474e89094c44da98b954eedeac495271d0f", usdc, 1)
	resp, err := http.Post(rpc, "application/json", strings.NewReader(call))
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		Result string
		Error  any
	}
	err = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if d, ok := new(big.Int).SetString(strings.TrimPrefix(answer.Result, "0x"), 16); err != nil || !ok || d.Int64() != 6 {
		t.Fatalf("decimals() of the stack's USDC: %+v %v", answer, err)
	}

	// steps 2 and 3: the snippet over the stack's configuration
	dir, text, loaded := documentedConfig(t, "add-token", nil)
	reg, err := chain.New(loaded)
	if err != nil {
		t.Fatal(err)
	}
	dai, ok := reg.Currency("DAI")
	want := chain.Currency{Code: "DAI", Chain: "eth", Family: chain.EVM, Decimals: 18, Confirmations: 12,
		Contract: "0x6b175474e89094c44da98b954eedeac495271d0f", RateID: "DAI", Minimum: "1", KeyBranch: 3}
	if !ok || dai != want {
		t.Fatalf("DAI in the registry: %+v, want %+v", dai, want)
	}
	if m := loaded.Sweeps.WithdrawalMinimum["DAI"]; m != "5" {
		t.Fatalf("DAI's withdrawal minimum %q", m)
	}
	if got := strings.Join(reg.Codes(), " "); got != "BTC LTC ETH USDT DAI" {
		t.Fatalf("currencies %q", got)
	}

	// the page's refusals in step 3: no key branch, a built-in's branch
	for _, tc := range []struct{ old, new, msg string }{
		{"key_branch: 3", "", "key_branch: missing: DAI is not a built-in token"},
		{"key_branch: 3", "key_branch: 2", "2 is USDC's branch"},
	} {
		bad := writeFile(t, dir, "bad.yaml", strings.Replace(text, tc.old, tc.new, 1), 0o600)
		if _, err := runConfigCheck(t, bad); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s → %q: %v", tc.old, tc.new, err)
		}
	}

	// step 4: the first process records DAI; decimals changed afterwards are refused
	ctx := context.Background()
	if err := pinCurrencies(ctx, loaded, db); err != nil {
		t.Fatal(err)
	}
	var contract string
	var decimals, branch int
	if err := db.QueryRow(ctx, `SELECT contract, decimals, key_branch FROM currencies WHERE code = 'DAI'`).Scan(&contract, &decimals, &branch); err != nil ||
		contract != want.Contract || decimals != 18 || branch != 3 {
		t.Fatalf("recorded DAI: %s %d %d %v", contract, decimals, branch, err)
	}
	changed := writeFile(t, dir, "changed.yaml", strings.Replace(text, "decimals: 18", "decimals: 6", 1), 0o600)
	cfg6, err := loadConfigFile(changed, needSeed|needSecrets|needChain)
	if err != nil {
		t.Fatal(err)
	}
	err = pinCurrencies(ctx, cfg6, db)
	quoted := "DAI: decimals 6 in the configuration, 18 in the ledger"
	if !errors.Is(err, payments.ErrCurrencyChanged) || !strings.Contains(err.Error(), quoted) || !strings.Contains(strings.Join(strings.Fields(doc), " "), quoted) {
		t.Fatalf("a changed DAI: %v", err)
	}
}

// TestConfigCheckTokens: "sluice config check" and every command take a
// token sluice does not know when it has a key branch of its own, and
// refuse it at its key and line (with every problem at once) when it has
// none, one of the built-ins', another token's, or when a built-in token is
// given another branch than its own.
func TestConfigCheckTokens(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	good := strings.Replace(stackConfig, "SEED", writeFile(t, dir, "seed", testMnemonic, 0o600), 1)
	const usdt = `      - {symbol: USDT, address: "0x3a220f351252089d385b29beca14e27f204c296a", decimals: 6}` + "\n"
	if !strings.Contains(good, usdt) {
		t.Fatal("the stack config lacks its USDT line")
	}
	tokens := func(lines ...string) string { return strings.Replace(good, usdt, strings.Join(lines, "\n")+"\n", 1) }
	const (
		dai  = `      - {symbol: DAI, address: "0x6b175474e89094c44da98b954eedeac495271d0f", decimals: 18, key_branch: 3}`
		wbtc = `      - {symbol: WBTC, address: "0x2260fac5e5542a773aa44fbcfedf7c193bc2c599", decimals: 8, key_branch: 4, confirmations: 30, rate_id: none}`
	)
	cases := []struct {
		name   string
		config string
		wants  []string // "line: key: gist" of each problem, in order
	}{
		{"USDT, DAI and WBTC", tokens(usdt[:len(usdt)-1], dai, wbtc), nil},
		{"USDT repeating its own branch", tokens(strings.Replace(usdt[:len(usdt)-1], "decimals: 6}", "decimals: 6, key_branch: 1}", 1)), nil},
		{"DAI without a key branch", tokens(usdt[:len(usdt)-1], strings.Replace(dai, ", key_branch: 3", "", 1)),
			[]string{"24: chains.eth.tokens[1].key_branch: missing: DAI is not a built-in token (USDT, USDC)"}},
		{"DAI on USDC's branch, WBTC on DAI's", tokens(strings.Replace(dai, "key_branch: 3", "key_branch: 2", 1), strings.Replace(wbtc, "key_branch: 4", "key_branch: 2", 1)),
			[]string{"23: chains.eth.tokens[0].key_branch: 2 is USDC's branch", "24: chains.eth.tokens[1].key_branch: 2 is USDC's branch"}},
		{"two tokens on one branch", tokens(dai, strings.Replace(wbtc, "key_branch: 4", "key_branch: 3", 1)),
			[]string{"24: chains.eth.tokens[1].key_branch: DAI and WBTC would share deposit keys (branch 3)"}},
		{"USDT moved", tokens(strings.Replace(usdt[:len(usdt)-1], "decimals: 6}", "decimals: 6, key_branch: 3}", 1), dai),
			[]string{"23: chains.eth.tokens[0].key_branch: 3: USDT's deposit keys are on branch 1, which a configuration cannot change"}},
		{"a hardened branch, bad confirmations and rate id", tokens(strings.Replace(dai, "key_branch: 3", "key_branch: 2147483648, confirmations: -1, rate_id: dai", 1)),
			[]string{"23: chains.eth.tokens[0].confirmations: -1 is not from 1 to 1000", `23: chains.eth.tokens[0].rate_id: "dai": a ticker`,
				"23: chains.eth.tokens[0].key_branch: 2147483648 is not a deposit key branch"}},
		{"two symbols, one contract", tokens(dai, strings.Replace(wbtc, "0x2260fac5e5542a773aa44fbcfedf7c193bc2c599", "0x6B175474E89094C44DA98B954EEDEAC495271D0F", 1)),
			[]string{"24: chains.eth.tokens[1].address: 0x6B175474E89094C44DA98B954EEDEAC495271D0F is also DAI's contract"}},
		{"a symbol the ledger cannot hold", tokens(strings.Replace(dai, "symbol: DAI", "symbol: 1INCH", 1)),
			[]string{`23: chains.eth.tokens[0].symbol: "1INCH": use the upper-case ticker`}},
	}
	cmds := commands(newRootCmd())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "sluice.yaml", tc.config, 0o600)
			_, err := runConfigCheck(t, file)
			var ce *config.Error
			if len(tc.wants) == 0 {
				if err != nil {
					t.Fatalf("config check: %v", err)
				}
			} else if !errors.As(err, &ce) {
				t.Fatalf("config check: %v", err)
			} else {
				var got []string
				for _, p := range ce.Problems {
					got = append(got, strconv.Itoa(p.Line)+": "+p.Key+": "+p.Msg)
				}
				if len(got) != len(tc.wants) {
					t.Fatalf("problems:\n%s", strings.Join(got, "\n"))
				}
				for i, w := range tc.wants {
					if !strings.HasPrefix(got[i], w) {
						t.Errorf("problem %d: %s\nwant %s…", i, got[i], w)
					}
				}
			}
			t.Setenv("SLUICE_CONFIG", file)
			for _, c := range cmds {
				if _, cerr := loadConfig(c); (cerr == nil) != (err == nil) {
					t.Fatalf("%s: %v, config check: %v", c.CommandPath(), cerr, err)
				}
			}
		})
	}
}
