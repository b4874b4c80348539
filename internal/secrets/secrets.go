package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/sluicepay/sluice/config"
)

// KeySize is the key's length in bytes (AES-256).
const KeySize = 32

// sealedPrefix opens every encrypted value: the format's version, so a
// later format (or key id) can be told apart, and so a value is never
// mistaken for a plaintext secret (those are hex, without a colon).
const sealedPrefix = "v1:"

// maxKeyFile bounds what is read of a key file: 64 hex digits and a newline,
// with room for a CRLF or spaces.
const maxKeyFile = 256

// Errors of Open and LoadKeyFile (wrapped, with the merchant or file named).
var (
	ErrWrongKey = errors.New("does not decrypt with the configured secrets.key_file: encrypted with another key, or changed")
	ErrNoKey    = errors.New("is encrypted, but no secrets.key_file (SLUICE_SECRETS_KEY_FILE) is configured to decrypt it")
	ErrKeyFile  = errors.New("invalid secrets key file")
)

// Key seals and opens stored secrets. A nil *Key is "no key configured":
// Seal stores in the clear, Open passes plaintext through and refuses
// encrypted values.
type Key struct {
	aead cipher.AEAD
}

// NewKey makes a Key of 32 raw bytes.
func NewKey(raw []byte) (*Key, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("%w: a key is %d bytes, not %d", ErrKeyFile, KeySize, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Key{aead: aead}, nil
}

// LoadKeyFile reads a key file: 64 hex digits (as Keygen writes them; one
// trailing newline or spaces ignored) or exactly 32 raw bytes. The file
// must be a regular file no one but its owner may read or write (mode 0600
// or 0400). No error quotes the file's content.
func LoadKeyFile(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secrets key file: %w", err)
	}
	defer f.Close()
	// the mode checked is the mode of the file read, not of whatever the
	// path names a moment later
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secrets key file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("secrets key file %s: %w: not a regular file (%s)", path, ErrKeyFile, st.Mode())
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("secrets key file %s: %w: mode %04o lets group or others read or write it; run chmod 600 %s",
			path, ErrKeyFile, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("secrets key file %s: %w", path, err)
	}
	if len(data) == KeySize {
		if k, err := NewKey(data); err == nil {
			return k, nil
		}
	}
	text := strings.TrimSpace(string(data))
	raw, err := hex.DecodeString(text)
	if len(data) > maxKeyFile || err != nil || len(raw) != KeySize {
		return nil, fmt.Errorf("secrets key file %s: %w: it must hold %d hex digits (sluice secrets keygen writes one) or %d raw bytes",
			path, ErrKeyFile, 2*KeySize, KeySize)
	}
	return NewKey(raw)
}

// Keygen writes a new random key to path, mode 0600, as 64 hex digits and a
// newline. It never overwrites a file: secrets encrypted with the key there
// would be lost with it.
func Keygen(path string) error {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("random: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists: refusing to overwrite a key (what it encrypted could not be read again); choose another file", path)
	}
	if err != nil {
		return fmt.Errorf("secrets key file: %w", err)
	}
	// 0600 whatever the umask left: the file is new and ours
	if err := f.Chmod(0o600); err == nil {
		_, err = f.WriteString(hex.EncodeToString(raw) + "\n")
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			return nil
		}
	} else {
		f.Close()
	}
	os.Remove(path)
	return fmt.Errorf("secrets key file %s: %w", path, err)
}

// IsSealed tells whether a stored value is encrypted (else it is a
// plaintext secret from before encryption was configured).
func IsSealed(stored string) bool { return strings.HasPrefix(stored, sealedPrefix) }

// Seal encrypts plaintext bound to ad (the row it is stored in, see
// WebhookSecretAD): "v1:" and base64 of the 12-byte nonce and the
// ciphertext with its tag. A nil Key returns plaintext unchanged.
func (k *Key) Seal(plaintext string, ad []byte) (string, error) {
	if k == nil {
		return plaintext, nil
	}
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	out := k.aead.Seal(nonce, nonce, []byte(plaintext), ad)
	return sealedPrefix + base64.StdEncoding.EncodeToString(out), nil
}

// Open decrypts a stored value sealed with ad; a plaintext value is
// returned as it is. Errors are ErrNoKey (a nil Key and a sealed value) or
// ErrWrongKey (another key, another row's value, or a changed one); none
// quotes the value.
func (k *Key) Open(stored string, ad []byte) (string, error) {
	b64, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return stored, nil
	}
	if k == nil {
		return "", ErrNoKey
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	n := k.aead.NonceSize()
	if err != nil || len(data) < n+k.aead.Overhead() {
		return "", ErrWrongKey
	}
	plain, err := k.aead.Open(nil, data[:n], data[n:], ad)
	if err != nil {
		return "", ErrWrongKey
	}
	return string(plain), nil
}

// WebhookSecretAD is the additional data of a merchant's webhook secret,
// current or previous: the column and the merchant's id.
func WebhookSecretAD(merchantID int64) []byte {
	return []byte("sluice merchants.webhook_secret " + strconv.FormatInt(merchantID, 10))
}

// OpenWebhookSecret decrypts a merchant's stored webhook secret; an error
// names the merchant, never the secret.
func (k *Key) OpenWebhookSecret(merchantID int64, stored string) (string, error) {
	s, err := k.Open(stored, WebhookSecretAD(merchantID))
	if err != nil {
		return "", fmt.Errorf("merchant %d's webhook secret %w", merchantID, err)
	}
	return s, nil
}

// SealWebhookSecret encrypts a merchant's webhook secret for storage (in
// the clear with a nil Key).
func (k *Key) SealWebhookSecret(merchantID int64, secret string) (string, error) {
	return k.Seal(secret, WebhookSecretAD(merchantID))
}

// KeyFromConfig loads the key of secrets.key_file (SLUICE_SECRETS_KEY_FILE);
// nil and no error when none is configured. A problem is located at the
// key, as config.Load locates its own.
func KeyFromConfig(cfg *config.Config) (*Key, error) {
	if cfg.Secrets.KeyFile == "" {
		return nil, nil
	}
	k, err := LoadKeyFile(cfg.Secrets.KeyFile)
	if err != nil {
		return nil, cfg.Errorf("secrets.key_file", "%w", err)
	}
	return k, nil
}

// CheckKeyFile is the config.Check of secrets.key_file: the file is
// present, mode 0600 (or stricter) and a key. Commands that read or write
// webhook secrets run it at start, and "sluice config check" runs it.
func CheckKeyFile(cfg *config.Config) []config.Problem {
	if cfg.Secrets.KeyFile == "" {
		return nil
	}
	if _, err := LoadKeyFile(cfg.Secrets.KeyFile); err != nil {
		return []config.Problem{config.NewProblem("secrets.key_file", err)}
	}
	return nil
}

// ClearWarning is what sluice logs (and config check prints) when no key is
// configured.
const ClearWarning = "no secrets.key_file (SLUICE_SECRETS_KEY_FILE): merchants' webhook secrets are stored in the clear in Postgres, " +
	"and so in every database dump; create a key with \"sluice secrets keygen FILE\" and name it in the config"
