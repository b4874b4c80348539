package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/sluicepay/sluice/config"
)

// stackConfig has the shape "sluice stack up" writes (var/teststack/sluice.yaml);
// SEED is replaced by the seed file's path.
const stackConfig = `api:
  listen: "127.0.0.1:28080"
clickhouse:
  dsn: "clickhouse://default:chpass@127.0.0.1:28100/sluice"
postgres:
  dsn: "postgres://sluice:pgpass@127.0.0.1:28110/sluice?sslmode=disable"
redis:
  url: "redis://:redispass@127.0.0.1:28120/0"
chains:
  btc:
    network: regtest
    rpc: "http://u:btcpass@127.0.0.1:28130"
    btcd_websocket: true
  ltc:
    network: regtest
    rpc: "http://u:ltcpass@127.0.0.1:28140"
  eth:
    network: dev
    rpc: "http://127.0.0.1:28150"
    ws: "ws://127.0.0.1:28151"
    traces: true
    tokens:
      - {symbol: USDT, address: "0x3a220f351252089d385b29beca14e27f204c296a", decimals: 6}
payments:
  seed_file: "SEED"
webhooks:
  allow_private_targets: [loopback]
sweeps:
  enabled: true
  fee_addresses: {BTC: "bcrt1qnnf0ezv55qvcswjfpqpfcd0tyvwqdhy5xfg4jk", LTC: "rltc1qgtsvy8a4z6ycprgvjhmjw0h3tr8ut3dlg9eq7a", ETH: "0x71562b71999873db5b286df957af199ec94617f7", USDT: "0x71562b71999873db5b286df957af199ec94617f7"}
indexer:
  unbounded_reorgs: true
log:
  level: info
  format: text
rates:
  sources:
    - {name: coingecko, url: "http://127.0.0.1:28095"}
`

const testMnemonic = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about\n"

// clearEnv unsets every SLUICE_* variable the configuration reads, so the
// files alone decide (the stack's "sluice stack env" sets some).
func clearEnv(t *testing.T) {
	t.Helper()
	t.Setenv("SLUICE_CONFIG", "")
	for _, ev := range config.EnvVars {
		t.Setenv(ev.Name, "")
	}
}

func writeFile(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// runConfigCheck runs "sluice config check FILE" as the binary does.
func runConfigCheck(t *testing.T, file string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"config", "check", file})
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// commands lists every runnable command of the tree but config check.
func commands(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	if c.Runnable() && c.CommandPath() != "sluice config check" {
		out = append(out, c)
	}
	for _, sub := range c.Commands() {
		out = append(out, commands(sub)...)
	}
	return out
}

// TestConfigCheckMatchesCommands: "sluice config check" says ok exactly to
// the configurations every command accepts at start (loadConfig, with the
// checks of the command and its default flags).
func TestConfigCheckMatchesCommands(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	seed := writeFile(t, dir, "seed", testMnemonic, 0o600)
	openSeed := writeFile(t, dir, "seed-0644", testMnemonic, 0o644)
	junkSeed := writeFile(t, dir, "seed-junk", "not a mnemonic at all\n", 0o600)
	emptyPass := writeFile(t, dir, "passphrase", "\n", 0o600)
	good := strings.Replace(stackConfig, "SEED", seed, 1)
	edit := func(old, new string) string {
		t.Helper()
		if !strings.Contains(good, old) {
			t.Fatalf("the stack config lacks %q", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	cases := []struct {
		name   string
		config string
		ok     bool
		by     []string // commands that must be among those refusing it
	}{
		{"the stack's config", good, true, nil},
		{"no seed, no sweeps", edit("  enabled: true\n", "  enabled: false\n") + "", true, nil},
		{"mainnet fee address on regtest", edit("bcrt1qnnf0ezv55qvcswjfpqpfcd0tyvwqdhy5xfg4jk", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"), false,
			[]string{"sluice sweep", "sluice serve"}},
		{"ETH fee address not hex", edit(`ETH: "0x71562b71999873db5b286df957af199ec94617f7"`, `ETH: "0xnothex"`), false, []string{"sluice sweep"}},
		{"confirmations: fast", edit("  enabled: true\n", "  enabled: true\n  confirmations: fast\n"), false, nil},
		{"seed file others may read", edit(seed, openSeed), false, []string{"sluice sweep", "sluice serve", "sluice wallets rescan"}},
		{"seed file not a seed", edit(seed, junkSeed), false, nil},
		{"seed file missing", edit(seed, filepath.Join(dir, "nope")), false, nil},
		{"empty passphrase file", edit("  seed_file: ", "  seed_passphrase_file: "+emptyPass+"\n  seed_file: "), false, nil},
		// the seed is given to the processes that derive keys only (SLUICE_SEED_FILE
		// in deploy/): a configuration without one is not a problem; "sluice sweep"
		// refuses to run without it after loading
		{"sweeps without a seed", edit("  seed_file: \""+seed+"\"\n", ""), true, nil},
		{"unknown key", edit("  enabled: true\n", "  enabled: true\n  intervall: 5s\n"), false, nil},
		{"withdrawal minimum finer than BTC", edit("  enabled: true\n", "  enabled: true\n  withdrawal_minimum: {BTC: \"0.000000001\"}\n"), false, nil},
		{"token named ETH", edit("symbol: USDT", "symbol: ETH"), false, nil},
		{"postgres without password", edit("sluice:pgpass@", "sluice@"), false, nil},
		{"no chain", good[:strings.Index(good, "chains:")] + good[strings.Index(good, "payments:"):], false,
			[]string{"sluice index", "sluice consume"}},
		{"LTC fee address of BTC", edit("rltc1qgtsvy8a4z6ycprgvjhmjw0h3tr8ut3dlg9eq7a", "bcrt1qnnf0ezv55qvcswjfpqpfcd0tyvwqdhy5xfg4jk"), false, nil},
	}
	cmds := commands(newRootCmd())
	if len(cmds) < 20 {
		t.Fatalf("only %d commands found", len(cmds))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "sluice.yaml", tc.config, 0o600)
			out, checkErr := runConfigCheck(t, file)
			if (checkErr == nil) != tc.ok {
				t.Fatalf("config check: ok=%v, want %v: %v %s", checkErr == nil, tc.ok, checkErr, out)
			}
			t.Setenv("SLUICE_CONFIG", file)
			var refused []string
			for _, c := range cmds {
				_, err := loadConfig(c)
				if err != nil {
					var ce *config.Error
					if !errors.As(err, &ce) {
						t.Fatalf("%s: not a configuration problem: %v", c.CommandPath(), err)
					}
					refused = append(refused, c.CommandPath())
				}
			}
			if everyAccepts := len(refused) == 0; everyAccepts != (checkErr == nil) {
				t.Fatalf("config check ok=%v, but the commands refusing it are %v (%v)", checkErr == nil, refused, checkErr)
			}
			for _, c := range tc.by {
				if !slices.Contains(refused, c) {
					t.Errorf("%s accepts it; refusing: %v", c, refused)
				}
			}
			if !tc.ok {
				t.Logf("refused by %d of %d commands, config check says: %v", len(refused), len(cmds), checkErr)
			}
		})
	}
}

// TestConfigCheckEveryProblemAtOnce: a configuration broken in ten ways (and
// a few more) gets every problem in one run of config check, each with its
// key and line.
func TestConfigCheckEveryProblemAtOnce(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	junkSeed := writeFile(t, dir, "seed", "correct horse battery staple\n", 0o600)
	body := `api:
  listen: "8080"
clickhouse:
  dsn: "clickhouse://default:chpass@127.0.0.1:28100/sluice"
postgres:
  dsn: "postgres://sluice@127.0.0.1:28110/sluice?sslmode=disable"
redis:
  url: "redis://:redispass@127.0.0.1:28120/0"
chains:
  btc:
    network: regtest
    rpc: "http://u:btcpass@127.0.0.1:28130"
  eth:
    network: dev
    rpc: "http://127.0.0.1:28150"
    ws: "ws://127.0.0.1:28151"
    tokens:
      - {symbol: ETH, address: "0x3a220f351252089d385b29beca14e27f204c296a", decimals: 18}
payments:
  seed_file: "` + junkSeed + `"
webhooks:
  timeout: soon
sweeps:
  enabled: true
  confirmations: fast
  intervall: 5s
  withdrawal_minimum:
    BTC: "0.000000001"
  fee_addresses:
    BTC: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    ETH: "0xnothex"
indexer:
  lease: perhaps
log:
  level: loud
`
	file := writeFile(t, dir, "sluice.yaml", body, 0o600)
	_, err := runConfigCheck(t, file)
	if err == nil {
		t.Fatal("config check passed a broken configuration")
	}
	msg := err.Error()
	t.Log(msg)
	// each problem's key, the text of its line in the file, and its gist
	wants := []struct{ key, line, msg string }{
		{"api.listen", `  listen: "8080"`, "not HOST:PORT"},
		{"postgres.dsn", "  dsn: \"postgres://", "missing password"},
		{"chains.eth.tokens[0].symbol", "      - {symbol: ETH", "not a token"},
		{"payments.seed_file", "  seed_file:", "invalid seed"},
		{"webhooks.timeout", "  timeout: soon", `"soon" is not a duration`},
		{"sweeps.confirmations", "  confirmations: fast", `"fast" is not an integer`},
		{"sweeps.intervall", "  intervall: 5s", `unknown key "intervall"`},
		{"sweeps.withdrawal_minimum.BTC", `    BTC: "0.000000001"`, "at most 8 decimals"},
		{"sweeps.fee_addresses.BTC", `    BTC: "bc1q`, "mainnet address; this BTC runs regtest"},
		{"sweeps.fee_addresses.ETH", `    ETH: "0xnothex"`, "not an Ethereum address"},
		{"indexer.lease", "  lease: perhaps", `"perhaps" is not true or false`},
		{"log.level", "  level: loud", `unknown level "loud"`},
	}
	lineOf := func(text string) int {
		for i, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, text) {
				return i + 1
			}
		}
		t.Fatalf("no line %q", text)
		return 0
	}
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("not a *config.Error: %T", err)
	}
	if len(ce.Problems) != len(wants) {
		t.Errorf("%d problems, want %d", len(ce.Problems), len(wants))
	}
	for _, w := range wants {
		prefix := file + ":" + strconv.Itoa(lineOf(w.line)) + ": " + w.key + ": "
		found := false
		for _, p := range ce.Problems {
			if s := p.String(); strings.HasPrefix(s, prefix) && strings.Contains(s, w.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem %q…%q", prefix, w.msg)
		}
	}
	for _, secret := range []string{"chpass", "redispass", "btcpass", "horse"} {
		if strings.Contains(msg, secret) {
			t.Errorf("the problems quote %q", secret)
		}
	}
}
