package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `api:
  listen: 127.0.0.1:27080
clickhouse:
  dsn: clickhouse://default:chpass@127.0.0.1:27100/sluice
postgres:
  dsn: postgres://sluice:pgpass@127.0.0.1:27110/sluice?sslmode=disable
redis:
  url: redis://:redispass@127.0.0.1:27120/0
chains:
  btc:
    network: regtest
    rpc: http://u:btcpass@127.0.0.1:27130
  ltc:
    network: regtest
    rpc: http://u:ltcpass@127.0.0.1:27140
  eth:
    network: dev
    rpc: http://127.0.0.1:27150
    ws: ws://127.0.0.1:27151
log:
  level: debug
`

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func noEnv(string) string { return "" }

func TestLoadGood(t *testing.T) {
	c, err := Load(write(t, good), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Chains.BTC.Network != "regtest" || !c.Chains.LTC.IsEnabled() || c.Chains.ETH.WS != "ws://127.0.0.1:27151" {
		t.Fatalf("unexpected config: %+v", c.Chains)
	}
	if c.API.ShutdownTimeout != 15*time.Second || c.Log.Format != "text" || c.Log.Level != "debug" {
		t.Fatalf("defaults not applied: %+v %+v", c.API, c.Log)
	}
}

func TestEnvOverridesFile(t *testing.T) {
	env := map[string]string{
		"SLUICE_REDIS_URL":  "redis://:other@127.0.0.1:1/2",
		"SLUICE_API_LISTEN": "127.0.0.1:9999",
		"SLUICE_ETH_WS":     "ws://127.0.0.1:1",
	}
	c, err := Load(write(t, good), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.URL != env["SLUICE_REDIS_URL"] || c.API.Listen != "127.0.0.1:9999" || c.Chains.ETH.WS != "ws://127.0.0.1:1" {
		t.Fatalf("env not applied: %+v", c)
	}
}

func TestEnvOnly(t *testing.T) {
	env := map[string]string{
		"SLUICE_CLICKHOUSE_DSN": "clickhouse://default:x@127.0.0.1:27100/sluice",
		"SLUICE_POSTGRES_DSN":   "postgres://a:b@127.0.0.1:1/db",
		"SLUICE_REDIS_URL":      "redis://127.0.0.1:1/0",
		"SLUICE_BTC_RPC":        "http://u:p@127.0.0.1:1",
		"SLUICE_BTC_NETWORK":    "regtest",
	}
	c, err := Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !c.Chains.BTC.IsEnabled() || c.Chains.LTC.IsEnabled() || c.Chains.ETH.IsEnabled() {
		t.Fatalf("only btc should be enabled: %+v", c.Chains)
	}
}

func TestProblems(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(string) string
		wants []string // substrings the error must contain
	}{
		{"unknown top key", func(s string) string { return s + "bogus: 1\n" },
			[]string{"sluice.yaml:22:", `unknown key "bogus"`, "known keys here: api, chains"}},
		{"unknown nested key", func(s string) string { return strings.Replace(s, "  listen:", "  lisen:", 1) },
			[]string{"sluice.yaml:2: api.lisen:", `unknown key "lisen"`, "listen"}},
		{"bad rpc scheme", func(s string) string { return strings.Replace(s, "http://u:btcpass", "htp://u:btcpass", 1) },
			[]string{"sluice.yaml:12: chains.btc.rpc:", `scheme "htp" not supported`}},
		{"rpc without credentials", func(s string) string { return strings.Replace(s, "http://u:ltcpass@", "http://", 1) },
			[]string{"chains.ltc.rpc: missing credentials"}},
		{"postgres without password", func(s string) string { return strings.Replace(s, "sluice:pgpass@", "sluice@", 1) },
			[]string{"sluice.yaml:6: postgres.dsn: missing password"}},
		{"missing clickhouse", func(s string) string {
			return strings.Replace(s, "  dsn: clickhouse://default:chpass@127.0.0.1:27100/sluice\n", "", 1)
		}, []string{"sluice.yaml:3: clickhouse.dsn: missing"}},
		{"http clickhouse", func(s string) string { return strings.Replace(s, "clickhouse://default", "http://default", 1) },
			[]string{"clickhouse.dsn: must start with clickhouse://"}},
		{"bad network", func(s string) string { return strings.Replace(s, "network: regtest", "network: testnet4", 1) },
			[]string{"sluice.yaml:11: chains.btc.network:", `unknown network "testnet4"`}},
		{"bad listen", func(s string) string { return strings.Replace(s, "127.0.0.1:27080", "27080", 1) },
			[]string{"api.listen:", "not HOST:PORT"}},
		{"bad port", func(s string) string { return strings.Replace(s, "127.0.0.1:27080", "127.0.0.1:99999", 1) },
			[]string{"api.listen:", "port \"99999\""}},
		{"wrong type", func(s string) string { return strings.Replace(s, "  listen: 127.0.0.1:27080", "  listen: [1, 2]", 1) },
			[]string{"sluice.yaml:2: api.listen: a list is not a string"}},
		{"bad duration", func(s string) string {
			return strings.Replace(s, "  listen: 127.0.0.1:27080", "  listen: 127.0.0.1:27080\n  shutdown_timeout: soon", 1)
		}, []string{"sluice.yaml:3:", "soon"}},
		{"yaml syntax", func(s string) string { return s + "log: [unclosed\n" },
			[]string{"sluice.yaml:"}},
		{"bad log level", func(s string) string { return strings.Replace(s, "level: debug", "level: loud", 1) },
			[]string{"log.level:", `unknown level "loud"`}},
		{"ws scheme", func(s string) string { return strings.Replace(s, "ws://127.0.0.1:27151", "http://127.0.0.1:27151", 1) },
			[]string{"chains.eth.ws:", "use ws or wss"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, tc.edit(good)), noEnv)
			if err == nil {
				t.Fatal("want an error")
			}
			msg := err.Error()
			for _, w := range tc.wants {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			for _, secret := range []string{"chpass", "pgpass", "redispass", "btcpass", "ltcpass"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error leaks secret %q: %s", secret, msg)
				}
			}
		})
	}
}

func TestProblemFromEnvNamesVariable(t *testing.T) {
	env := map[string]string{"SLUICE_REDIS_URL": "mysql://x"}
	_, err := Load(write(t, good), func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "SLUICE_REDIS_URL (redis.url)") {
		t.Fatalf("want the variable named, got %v", err)
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	_, err := Load(write(t, "log:\n  level: loud\n"), noEnv)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, w := range []string{"clickhouse.dsn", "postgres.dsn", "redis.url", "log.level"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %s in %v", w, err)
		}
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), noEnv)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("got %v", err)
	}
}

func TestRedact(t *testing.T) {
	if got := Redact("postgres://u:secret@h:1/db"); strings.Contains(got, "secret") {
		t.Fatal(got)
	}
}

func TestPayments(t *testing.T) {
	withSeed := good + "payments:\n  seed_file: /etc/sluice/seed\n"
	c, err := Load(write(t, withSeed), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Payments.SeedFile != "/etc/sluice/seed" || c.Payments.SeedPassphraseFile != "" {
		t.Fatalf("payments %+v", c.Payments)
	}
	// Load does not read the seed: processes that need no keys need no file.
	env := map[string]string{"SLUICE_SEED_FILE": "/run/seed", "SLUICE_SEED_PASSPHRASE_FILE": "/run/pass"}
	c, err = Load(write(t, withSeed), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Payments.SeedFile != "/run/seed" || c.Payments.SeedPassphraseFile != "/run/pass" {
		t.Fatalf("env not applied: %+v", c.Payments)
	}

	// a passphrase without a seed
	_, err = Load(write(t, good+"payments:\n  seed_passphrase_file: /etc/sluice/pass\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), "sluice.yaml:23: payments.seed_passphrase_file: set without payments.seed_file") {
		t.Fatalf("passphrase without seed: %v", err)
	}
}

// TestErrorf: problems found after Load (the seed file, by the payments
// package) are located as Load's own are.
func TestErrorf(t *testing.T) {
	path := write(t, good+"payments:\n  seed_file: /etc/sluice/seed\n")
	c, err := Load(path, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	cause := errors.New("mode 0644")
	err = c.Errorf("payments.seed_file", "seed file: %w", cause)
	if want := "invalid configuration: " + path + ":23: payments.seed_file: seed file: mode 0644"; err.Error() != want {
		t.Fatalf("got  %q\nwant %q", err, want)
	}
	if !errors.Is(err, cause) {
		t.Fatal("the cause is lost")
	}
	// a key the file lacks: the line of its nearest parent
	if err := c.Errorf("payments.seed_passphrase_file", "x"); !strings.Contains(err.Error(), "sluice.yaml:22: payments.seed_passphrase_file: x") {
		t.Fatal(err)
	}

	env := map[string]string{"SLUICE_SEED_FILE": "/run/seed"}
	c, err = Load(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Errorf("payments.seed_file", "missing"); err.Error() != "invalid configuration: SLUICE_SEED_FILE (payments.seed_file): missing" {
		t.Fatal(err)
	}
	env["SLUICE_CLICKHOUSE_DSN"] = "clickhouse://default:x@127.0.0.1:1/sluice"
	env["SLUICE_POSTGRES_DSN"] = "postgres://a:b@127.0.0.1:1/db"
	env["SLUICE_REDIS_URL"] = "redis://127.0.0.1:1/0"
	env["SLUICE_SEED_FILE"] = ""
	if c, err = Load("", func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := c.Errorf("payments.seed_file", "missing"); err.Error() != "invalid configuration: payments.seed_file: missing" {
		t.Fatal(err)
	}
}

func TestWebhooks(t *testing.T) {
	c, err := Load(write(t, good), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Webhooks; w.Workers != 4 || w.Timeout != 10*time.Second || w.MaxAge != 72*time.Hour || len(w.AllowPrivateTargets) != 0 {
		t.Fatalf("webhook defaults: %+v", w)
	}
	c, err = Load(write(t, good+"webhooks:\n  allow_private_targets: [loopback, 10.1.0.0/16, fd00::1]\n  workers: 8\n  timeout: 3s\n  max_age: 24h\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Webhooks; w.Workers != 8 || w.Timeout != 3*time.Second || w.MaxAge != 24*time.Hour || len(w.AllowPrivateTargets) != 3 {
		t.Fatalf("webhooks from the file: %+v", w)
	}
	env := map[string]string{"SLUICE_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "loopback,private", "SLUICE_WEBHOOKS_WORKERS": "2",
		"SLUICE_WEBHOOKS_TIMEOUT": "5s", "SLUICE_WEBHOOKS_MAX_AGE": "1h"}
	c, err = Load(write(t, good), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Webhooks; w.Workers != 2 || w.Timeout != 5*time.Second || w.MaxAge != time.Hour ||
		strings.Join(w.AllowPrivateTargets, " ") != "loopback private" {
		t.Fatalf("webhooks from the environment: %+v", w)
	}

	// bad values, located at their line
	_, err = Load(write(t, good+"webhooks:\n  allow_private_targets: [loopback, intranet]\n  workers: 1000\n  timeout: 1ms\n  max_age: 1s\n"), noEnv)
	for _, w := range []string{
		`sluice.yaml:23: webhooks.allow_private_targets: entry 2, "intranet", is neither a keyword (loopback, private, link-local, cgnat) nor a CIDR`,
		"sluice.yaml:24: webhooks.workers: must be a number from 1 to 256",
		"sluice.yaml:25: webhooks.timeout: must be a duration from 1s to 5m",
		"sluice.yaml:26: webhooks.max_age: must be a duration from 1m to 720h",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("want %q in %v", w, err)
		}
	}
	// bad values from the environment name their variable
	env = map[string]string{"SLUICE_WEBHOOKS_TIMEOUT": "soon", "SLUICE_WEBHOOKS_WORKERS": "many", "SLUICE_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "lan"}
	_, err = Load(write(t, good), func(k string) string { return env[k] })
	for _, w := range []string{"SLUICE_WEBHOOKS_TIMEOUT (webhooks.timeout)", "SLUICE_WEBHOOKS_WORKERS (webhooks.workers)",
		"SLUICE_WEBHOOKS_ALLOW_PRIVATE_TARGETS (webhooks.allow_private_targets)"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("want %q in %v", w, err)
		}
	}
}
