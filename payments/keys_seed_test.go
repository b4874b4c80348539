package payments

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/payments/keys"
)

// configWith loads a valid configuration whose payments section is payments
// (YAML lines at two-space indent, "" for none).
func configWith(t *testing.T, payments string, env map[string]string) (*config.Config, string) {
	t.Helper()
	y := `clickhouse:
  dsn: clickhouse://default:x@127.0.0.1:1/sluice
postgres:
  dsn: postgres://a:b@127.0.0.1:1/db
redis:
  url: redis://127.0.0.1:1/0
chains:
  btc: {network: regtest, rpc: "http://u:p@127.0.0.1:1"}
  eth: {network: sepolia, rpc: "http://127.0.0.1:1", ws: "ws://127.0.0.1:2"}
`
	if payments != "" {
		y += "payments:\n" + payments
	}
	p := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg, p
}

func secretFile(t *testing.T, dir, name, text string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKeysFromConfig(t *testing.T) {
	dir := t.TempDir()
	good := secretFile(t, dir, "seed", testMnemonic+"\n", 0o600)

	cfg, _ := configWith(t, "  seed_file: "+good+"\n", nil)
	d, err := KeysFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sk := d.(SeedKeys)
	if want := map[string]string{"BTC": "regtest", "ETH": "sepolia"}; len(sk.Networks) != 2 || sk.Networks["BTC"] != "regtest" || sk.Networks["ETH"] != "sepolia" {
		t.Fatalf("networks %v, want %v (no LTC section, no USDT token on sepolia)", sk.Networks, want)
	}
	if a, err := d.Address("BTC", 0, 0); err != nil || !strings.HasPrefix(a, "bcrt1q") {
		t.Fatalf("regtest address %q %v", a, err)
	}
	if _, err := d.Address("LTC", 0, 0); err == nil {
		t.Fatal("LTC is not configured")
	}

	// the passphrase changes the keys
	pass := secretFile(t, dir, "pass", "TREZOR\n", 0o600)
	cfg, _ = configWith(t, "  seed_file: "+good+"\n  seed_passphrase_file: "+pass+"\n", nil)
	dp, err := KeysFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a0, _ := d.Address("ETH", 0, 0)
	a1, _ := dp.Address("ETH", 0, 0)
	if a0 == a1 {
		t.Fatal("passphrase ignored")
	}

	// no seed: no keys, no error
	cfg, _ = configWith(t, "", nil)
	if d, err := KeysFromConfig(cfg); d != nil || err != nil {
		t.Fatalf("no seed_file: %v %v", d, err)
	}

	bad := secretFile(t, dir, "bad", strings.Repeat("abandon ", 12), 0o600)
	shared := secretFile(t, dir, "shared", testMnemonic, 0o644)
	sharedPass := secretFile(t, dir, "shared-pass", "TREZOR", 0o640)
	hexPass := secretFile(t, dir, "hexseed", strings.Repeat("ab", 32), 0o600)
	for _, c := range []struct {
		name, section string
		wants         []string
		is            error
	}{
		{"missing", "  seed_file: " + filepath.Join(dir, "nope") + "\n",
			[]string{"sluice.yaml:11: payments.seed_file:", "no such file"}, os.ErrNotExist},
		{"not 0600", "  seed_file: " + shared + "\n",
			[]string{"sluice.yaml:11: payments.seed_file:", "mode 0644", "chmod 600"}, keys.ErrInvalidSeed},
		{"directory", "  seed_file: " + dir + "\n",
			[]string{"sluice.yaml:11: payments.seed_file:", "not a regular file"}, keys.ErrInvalidSeed},
		{"not a seed", "  seed_file: " + bad + "\n",
			[]string{"sluice.yaml:11: payments.seed_file:", "checksum does not match"}, keys.ErrInvalidSeed},
		{"passphrase not 0600", "  seed_file: " + good + "\n  seed_passphrase_file: " + sharedPass + "\n",
			[]string{"sluice.yaml:12: payments.seed_passphrase_file:", "mode 0640"}, keys.ErrInvalidSeed},
		{"passphrase with a hex seed", "  seed_file: " + hexPass + "\n  seed_passphrase_file: " + pass + "\n",
			[]string{"sluice.yaml:11: payments.seed_file:", "a passphrase applies only to a mnemonic"}, keys.ErrInvalidSeed},
	} {
		cfg, _ := configWith(t, c.section, nil)
		_, err := KeysFromConfig(cfg)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", c.name, err, w)
			}
		}
		if !errors.Is(err, c.is) {
			t.Errorf("%s: %v is not %v", c.name, err, c.is)
		}
		for _, secret := range []string{"abandon", "about", "TREZOR", "abab"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error quotes the secret: %v", c.name, err)
			}
		}
	}

	// set by the environment: the variable is named
	cfg, _ = configWith(t, "", map[string]string{"SLUICE_SEED_FILE": shared})
	if _, err := KeysFromConfig(cfg); err == nil || !strings.Contains(err.Error(), "SLUICE_SEED_FILE (payments.seed_file): seed file "+shared) {
		t.Fatalf("from the environment: %v", err)
	}
}
