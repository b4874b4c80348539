package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testKey(t *testing.T, b byte) *Key {
	t.Helper()
	k, err := NewKey(bytes.Repeat([]byte{b}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := testKey(t, 1)
	const secret = "5f0c2a9e7d1b4c3a"
	sealed, err := k.SealWebhookSecret(7, secret)
	if err != nil {
		t.Fatal(err)
	}
	if !IsSealed(sealed) || strings.Contains(sealed, secret) {
		t.Fatalf("sealed value %q is not v1: or shows the secret", sealed)
	}
	again, _ := k.SealWebhookSecret(7, secret)
	if again == sealed {
		t.Fatal("two seals of one secret are equal: the nonce is not random")
	}
	got, err := k.OpenWebhookSecret(7, sealed)
	if err != nil || got != secret {
		t.Fatalf("open = %q, %v", got, err)
	}

	tampered := func(s string) string {
		data, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, sealedPrefix))
		data[len(data)-1] ^= 1
		return sealedPrefix + base64.StdEncoding.EncodeToString(data)
	}
	for _, c := range []struct {
		name   string
		key    *Key
		id     int64
		stored string
		want   error
	}{
		{"wrong key", testKey(t, 2), 7, sealed, ErrWrongKey},
		{"another merchant's row", k, 8, sealed, ErrWrongKey},
		{"tampered", k, 7, tampered(sealed), ErrWrongKey},
		{"truncated", k, 7, sealed[:10], ErrWrongKey},
		{"not base64", k, 7, "v1:!!!", ErrWrongKey},
		{"no key configured", nil, 7, sealed, ErrNoKey},
	} {
		_, err := c.key.OpenWebhookSecret(c.id, c.stored)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "merchant "+map[bool]string{true: "8", false: "7"}[c.id == 8]) || strings.Contains(msg, secret) {
			t.Errorf("%s: error %q must name the merchant and not the secret", c.name, msg)
		}
	}
}

func TestPlaintextFallback(t *testing.T) {
	// rows written before a key was configured are read as they are, with
	// or without a key; without a key nothing is encrypted
	for _, k := range []*Key{nil, testKey(t, 1)} {
		got, err := k.OpenWebhookSecret(3, "abc123")
		if err != nil || got != "abc123" {
			t.Fatalf("key %v: open plaintext = %q, %v", k != nil, got, err)
		}
	}
	var none *Key
	s, err := none.SealWebhookSecret(3, "abc123")
	if err != nil || s != "abc123" || IsSealed(s) {
		t.Fatalf("seal without key = %q, %v", s, err)
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.key")
	if err := Keygen(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("keygen mode = %v, %v; want 0600", st.Mode(), err)
	}
	before, _ := os.ReadFile(path)
	if err := Keygen(path); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("keygen over an existing file: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("keygen changed an existing key file")
	}
	k, err := LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := k.SealWebhookSecret(1, "s")
	k2, _ := LoadKeyFile(path)
	if got, err := k2.OpenWebhookSecret(1, sealed); err != nil || got != "s" {
		t.Fatalf("a key loaded again does not open: %q, %v", got, err)
	}

	raw := filepath.Join(dir, "raw.key")
	if err := os.WriteFile(raw, bytes.Repeat([]byte{9}, KeySize), 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyFile(raw); err != nil {
		t.Fatalf("32 raw bytes, mode 0400: %v", err)
	}

	for name, c := range map[string]struct {
		content string
		mode    os.FileMode
		want    string
	}{
		"group readable": {strings.Repeat("ab", 32) + "\n", 0o640, "mode 0640"},
		"world readable": {strings.Repeat("ab", 32) + "\n", 0o644, "chmod 600"},
		"short":          {strings.Repeat("ab", 16) + "\n", 0o600, "64 hex digits"},
		"not hex":        {strings.Repeat("zz", 32) + "\n", 0o600, "64 hex digits"},
		"empty":          {"", 0o600, "64 hex digits"},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(p, []byte(c.content), c.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, c.mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadKeyFile(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want one naming %s and %q", name, err, p, c.want)
		}
		if err != nil && c.content != "" && strings.Contains(err.Error(), strings.TrimSpace(c.content)) {
			t.Errorf("%s: the error quotes the key", name)
		}
	}
	if _, err := LoadKeyFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
	if _, err := LoadKeyFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file loaded")
	}
}

func FuzzOpen(f *testing.F) {
	k, _ := NewKey(bytes.Repeat([]byte{1}, KeySize))
	s, _ := k.SealWebhookSecret(1, "x")
	f.Add(s)
	f.Add("v1:")
	f.Fuzz(func(t *testing.T, stored string) {
		_, _ = k.OpenWebhookSecret(1, stored) // never panics
	})
}
