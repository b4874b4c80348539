package keys

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/tyler-smith/go-bip39"
	"github.com/tyler-smith/go-bip39/wordlists"
)

func TestBIP39WordlistIsTheSpecFile(t *testing.T) {
	sum := sha256.Sum256([]byte(strings.Join(wordlists.English, "\n") + "\n"))
	if got := hex.EncodeToString(sum[:]); got != bip39WordlistSHA256 {
		t.Fatalf("English wordlist sha256 = %s, want %s (bip-0039/english.txt)", got, bip39WordlistSHA256)
	}
}

// TestBIP39Vectors runs the spec's vectors: entropy and mnemonic agree (the
// checksum the parser checks), the mnemonic with "TREZOR" gives the seed, and
// the seed gives the BIP32 master key.
func TestBIP39Vectors(t *testing.T) {
	for _, v := range bip39Vectors {
		t.Run(v.entropy, func(t *testing.T) {
			entropy, _ := hex.DecodeString(v.entropy)
			m, err := bip39.NewMnemonic(entropy)
			if err != nil || m != v.mnemonic {
				t.Fatalf("entropy -> mnemonic = %q, %v; want %q", m, err, v.mnemonic)
			}
			got, err := bip39.EntropyFromMnemonic(v.mnemonic)
			if err != nil || !bytes.Equal(got, entropy) {
				t.Fatalf("mnemonic -> entropy = %x, %v; want %s", got, err, v.entropy)
			}
			seed := mustSeed(t, v.mnemonic, "TREZOR")
			if h := hex.EncodeToString(seed.bytes()); h != v.seed {
				t.Fatalf("seed = %s, want %s", h, v.seed)
			}
			master, err := seed.derive(nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := master.String(); got != v.xprv {
				t.Fatalf("master = %s, want %s", got, v.xprv)
			}
		})
	}
}

func TestParseSeedMnemonicForms(t *testing.T) {
	want := mustSeed(t, abandon, "").bytes()
	// The empty-passphrase seed of the abandon mnemonic, as wallets publish it.
	if h := hex.EncodeToString(want); h != "5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc19a5ac40b389cd370d086206dec8aa6c43daea6690f20ad3d8d48b2d2ce9e38e4" {
		t.Fatalf("abandon seed = %s", h)
	}
	for name, in := range map[string]string{
		"uppercase":       strings.ToUpper(abandon),
		"title case":      "Abandon " + strings.TrimPrefix(abandon, "abandon "),
		"extra spaces":    "  " + strings.ReplaceAll(abandon, " ", "   ") + "  ",
		"newlines, tabs":  strings.ReplaceAll(abandon, " ", "\n\t") + "\n",
		"no-break spaces": strings.ReplaceAll(abandon, " ", "\u00a0"), // NFKD makes it a space
	} {
		s, err := ParseSeed(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(s.bytes(), want) {
			t.Errorf("%s: seed %x differs from the canonical sentence's", name, s.bytes())
		}
	}
}

func TestPassphraseIsNFKD(t *testing.T) {
	composed := mustSeed(t, abandon, "caf\u00e9")    // é as one code point
	decomposed := mustSeed(t, abandon, "cafe\u0301") // e + combining acute
	if !bytes.Equal(composed.bytes(), decomposed.bytes()) {
		t.Fatal("composed and decomposed passphrases give different seeds; BIP39 hashes the NFKD form")
	}
	if bytes.Equal(composed.bytes(), mustSeed(t, abandon, "").bytes()) {
		t.Fatal("passphrase ignored")
	}
}

func TestParseSeedHex(t *testing.T) {
	v1 := bip32Vectors[0]
	for _, in := range []string{v1.seed, "0x" + v1.seed, strings.ToUpper(v1.seed), " " + v1.seed + "\n"} {
		s, err := ParseSeed(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if hex.EncodeToString(s.bytes()) != v1.seed {
			t.Fatalf("%q: seed %x", in, s.bytes())
		}
	}
	if _, err := ParseSeed(strings.Repeat("ab", 64)); err != nil {
		t.Fatalf("64-byte seed: %v", err)
	}
}

func TestParseSeedErrors(t *testing.T) {
	words := strings.Fields(abandon)
	cases := []struct {
		name, in, pass string
		want           []string
	}{
		{"empty", "", "", []string{"empty"}},
		{"blank", " \n\t ", "", []string{"empty"}},
		{"bad checksum", strings.Repeat("abandon ", 12), "", []string{"mnemonic (12 words)", "checksum"}},
		{"swapped words", strings.Join(append([]string{"about"}, words[:11]...), " "), "", []string{"checksum"}},
		{"unknown word", strings.Join(append(append([]string{}, words[:4]...), append([]string{"abandonn"}, words[5:]...)...), " "), "",
			[]string{"word 5 is not in the BIP39 English wordlist"}},
		{"11 words", strings.Join(words[:11], " "), "", []string{"mnemonic (11 words)", "12, 15, 18, 21 or 24"}},
		{"13 words", abandon + " abandon", "", []string{"mnemonic (13 words)"}},
		{"25 words", strings.Repeat("abandon ", 24) + "art", "", []string{"mnemonic (25 words)"}},
		{"27 words", strings.Repeat("abandon ", 27), "", []string{"mnemonic (27 words)"}},
		{"one word", "abandon", "", []string{"mnemonic (1 word)"}},
		{"comma separated", strings.ReplaceAll(abandon, " ", ","), "", []string{"mnemonic (1 word)"}},
		{"odd hex", strings.Repeat("a", 33), "", []string{"odd number of hex digits"}},
		{"short hex", strings.Repeat("ab", 15), "", []string{"hex seed (15 bytes)", "16 to 64 bytes"}},
		{"long hex", strings.Repeat("ab", 65), "", []string{"hex seed (65 bytes)", "16 to 64 bytes"}},
		{"bare 0x", "0x", "", []string{"mnemonic (1 word)"}},
		{"hex with passphrase", bip32Vectors[0].seed, "TREZOR", []string{"passphrase applies only to a mnemonic"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSeedWithPassphrase(c.in, c.pass)
			errContains(t, err, c.want...)
			if !errors.Is(err, ErrInvalidSeed) {
				t.Errorf("error %q is not ErrInvalidSeed", err)
			}
			// No error repeats the secret, or any word of it.
			for _, w := range strings.Fields(strings.ReplaceAll(c.in, ",", " ")) {
				if len(w) >= 4 && strings.Contains(err.Error(), w) {
					t.Errorf("error %q quotes input %q", err, w)
				}
			}
		})
	}
}

// TestSeedNeverPrints checks every way a Seed or PrivateKey might reach a
// log or a response: fmt verbs, slog handlers, JSON, and as a field of a
// struct printed whole.
func TestSeedNeverPrints(t *testing.T) {
	seed := mustSeed(t, abandon, "")
	key, err := seed.PrivateKey(BTC, "mainnet", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	secretSeed := seed.bytes()
	secretKey := key.BTCEC().Serialize()
	forbidden := []string{
		hex.EncodeToString(secretSeed), hex.EncodeToString(secretSeed[:8]),
		fmt.Sprint(secretSeed[:8])[1:20], // the decimal bytes %v of a []byte shows
		hex.EncodeToString(secretKey), hex.EncodeToString(secretKey[:8]),
		fmt.Sprint(secretKey[:8])[1:20],
		fmt.Sprint(key.BTCEC().Key)[:16],
		// The scalar's limbs, as fmt shows a btcec key it cannot call String on.
		strings.Trim(fmt.Sprintf("%v", struct{ k btcec.ModNScalar }{key.BTCEC().Key}), "{[")[:20],
		"abandon",
	}
	type exported struct {
		Seed Seed
		Key  *PrivateKey
	}
	type unexported struct {
		seed Seed
		key  *PrivateKey
		val  PrivateKey
	}
	values := map[string]any{
		"Seed": seed, "*Seed": &seed, "*PrivateKey": key, "PrivateKey": *key,
		"exported fields": exported{seed, key}, "unexported fields": unexported{seed, key, *key},
		"*exported": &exported{seed, key}, "*unexported": &unexported{seed, key, *key},
	}
	var outputs []string
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			outputs = append(outputs, name+" "+verb+": "+fmt.Sprintf(verb, v))
		}
		outputs = append(outputs, name+" Sprint: "+fmt.Sprint(v), name+" Sprintln: "+fmt.Sprintln(v))
		for _, h := range []func(*bytes.Buffer) slog.Handler{
			func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		} {
			var buf bytes.Buffer
			slog.New(h(&buf)).Info("msg", "v", v, slog.Any("any", v), "group", slog.GroupValue(slog.Any("inner", v)))
			outputs = append(outputs, name+" slog: "+buf.String())
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Errorf("%s: json.Marshal: %v", name, err)
		}
		outputs = append(outputs, name+" json: "+string(j))
	}
	for _, out := range outputs {
		for _, f := range forbidden {
			if strings.Contains(out, f) {
				t.Errorf("secret %q shown in %s", f, out)
			}
		}
	}
	// The direct forms say what is hidden rather than printing nothing; the
	// methods other than Format serve callers that ask for them by name.
	text, _ := seed.MarshalText()
	appended, _ := key.AppendText(nil)
	for _, s := range []string{fmt.Sprintf("%v", seed), fmt.Sprintf("%#v", seed), fmt.Sprintf("%+v", key),
		seed.String(), key.GoString(), string(text), string(appended)} {
		if s != redactedText {
			t.Errorf("printed as %q, want %q", s, redactedText)
		}
	}
	if j, _ := json.Marshal(exported{seed, key}); string(j) != `{"Seed":"[redacted]","Key":"[redacted]"}` {
		t.Errorf("json = %s", j)
	}
}

func TestLoadSeed(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // WriteFile's mode passes through the umask
			t.Fatal(err)
		}
		return p
	}
	good := write("seed", abandon+"\n", 0o600)
	s, err := LoadSeed(good)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.bytes(), mustSeed(t, abandon, "").bytes()) {
		t.Fatal("LoadSeed and ParseSeed disagree")
	}
	ro := write("seed-ro", abandon, 0o400)
	sp, err := LoadSeedWithPassphrase(ro, "TREZOR")
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(sp.bytes()) != bip39Vectors[0].seed {
		t.Fatal("LoadSeedWithPassphrase ignored the passphrase")
	}

	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o644, 0o700 | 0o010, 0o602} {
		p := write(fmt.Sprintf("seed-%04o", mode), abandon, mode)
		_, err := LoadSeed(p)
		errContains(t, err, p, fmt.Sprintf("mode %04o", mode), "chmod 600")
		if !errors.Is(err, ErrInvalidSeed) {
			t.Errorf("%04o: error is not ErrInvalidSeed", mode)
		}
	}
	_, err = LoadSeed(filepath.Join(dir, "missing"))
	errContains(t, err, "missing")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v is not ErrNotExist", err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = LoadSeed(sub)
	errContains(t, err, sub, "not a regular file")

	big := write("big", strings.Repeat(abandon+"\n", 100), 0o600)
	_, err = LoadSeed(big)
	errContains(t, err, big, "longer than 4096 bytes")

	bad := write("bad", strings.Repeat("abandon ", 12), 0o600)
	_, err = LoadSeed(bad)
	errContains(t, err, bad, "checksum")
}

func TestZeroSeed(t *testing.T) {
	var s Seed
	if _, err := s.Address(BTC, "mainnet", 0, 0); !errors.Is(err, ErrInvalidSeed) {
		t.Fatalf("zero Seed: %v", err)
	}
	if _, err := s.PrivateKey(ETH, "mainnet", 0, 0); !errors.Is(err, ErrInvalidSeed) {
		t.Fatalf("zero Seed: %v", err)
	}
	if _, err := s.AccountXPub(Scheme{Family: Bitcoin, Chain: "ltc", Network: "mainnet"}, 0); !errors.Is(err, ErrInvalidSeed) {
		t.Fatalf("zero Seed: %v", err)
	}
}

func TestLoadPassphrase(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for text, want := range map[string]string{
		"TREZOR": "TREZOR", "TREZOR\n": "TREZOR", "TREZOR\r\n": "TREZOR", " two words \n\n": " two words \n",
	} {
		got, err := LoadPassphrase(write("pass", text, 0o600))
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", text, got, err, want)
		}
	}
	p := write("pass-shared", "TREZOR\n", 0o640)
	_, err := LoadPassphrase(p)
	errContains(t, err, "passphrase file "+p, "mode 0640", "chmod 600")
	for _, empty := range []string{"", "\n"} {
		_, err = LoadPassphrase(write("empty", empty, 0o600))
		errContains(t, err, "empty")
	}
	_, err = LoadPassphrase(write("big", strings.Repeat("x", 2000), 0o600))
	errContains(t, err, "longer than 1024 bytes")
	if err != nil && strings.Contains(err.Error(), "xxxx") {
		t.Errorf("error quotes the file: %v", err)
	}
	_, err = LoadPassphrase(filepath.Join(dir, "missing"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v is not ErrNotExist", err)
	}
}
