package keys

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/tyler-smith/go-bip39"
	"golang.org/x/text/unicode/norm"
)

// Errors this package wraps, so that callers can tell bad input from a fault.
var (
	ErrInvalidSeed        = errors.New("invalid seed")
	ErrInvalidExtendedKey = errors.New("invalid extended key")
	ErrInvalidPath        = errors.New("invalid derivation")
)

// BIP32 bounds the master seed to 128..512 bits.
const (
	minSeedBytes = 16
	maxSeedBytes = 64
	// maxSeedFile is far more than 24 words or 128 hex digits plus a
	// newline; anything longer is not a seed file.
	maxSeedFile = 4096
)

const redactedText = "[redacted]"

// redact gives a secret-holding type every printing method fmt, log/slog,
// encoding/json and text encoders look for, all answering "[redacted]".
// Embedded, its methods are promoted to the outer type.
type redact struct{}

func (redact) String() string                      { return redactedText }
func (redact) GoString() string                    { return redactedText }
func (redact) Format(f fmt.State, _ rune)          { _, _ = io.WriteString(f, redactedText) }
func (redact) LogValue() slog.Value                { return slog.StringValue(redactedText) }
func (redact) MarshalJSON() ([]byte, error)        { return []byte(`"` + redactedText + `"`), nil }
func (redact) MarshalText() ([]byte, error)        { return []byte(redactedText), nil }
func (redact) AppendText(b []byte) ([]byte, error) { return append(b, redactedText...), nil }

// Seed is the BIP32 master seed every custodial key is derived from. It
// prints, logs and marshals as "[redacted]". The bytes are held by a closure,
// which reflection cannot look into: fmt does not call methods on unexported
// struct fields and follows pointers when it reports a bad verb, so a pointer
// would show them when a Seed is an unexported field of something printed.
type Seed struct {
	redact
	bytes func() []byte
}

// ParseSeed reads a master seed: a BIP39 English mnemonic of 12 to 24 words
// (checksum checked, no passphrase) or 16 to 64 bytes in hex.
func ParseSeed(s string) (Seed, error) {
	return ParseSeedWithPassphrase(s, "")
}

// ParseSeedWithPassphrase is ParseSeed with a BIP39 passphrase, the "25th
// word". A hex seed takes no passphrase: one given with it is an error rather
// than silently ignored, since it would not change the keys.
func ParseSeedWithPassphrase(s, passphrase string) (Seed, error) {
	b, err := parseSeed(s, passphrase)
	if err != nil {
		return Seed{}, err
	}
	return Seed{bytes: func() []byte { return b }}, nil
}

// LoadSeed reads a seed file (as ParseSeed reads its text). It refuses a file
// that its group or others may read or write: a seed is the key to every
// deposit.
func LoadSeed(path string) (Seed, error) {
	return LoadSeedWithPassphrase(path, "")
}

// LoadSeedWithPassphrase is LoadSeed with a BIP39 passphrase.
func LoadSeedWithPassphrase(path, passphrase string) (Seed, error) {
	text, err := readSecretFile("seed file", path, maxSeedFile, "it should hold one mnemonic or one hex seed")
	if err != nil {
		return Seed{}, err
	}
	seed, err := ParseSeedWithPassphrase(string(text), passphrase)
	if err != nil {
		return Seed{}, fmt.Errorf("seed file %s: %w", path, err)
	}
	return seed, nil
}

// maxPassphraseFile bounds a passphrase file; BIP39 sets no limit, wallets
// take far less.
const maxPassphraseFile = 1024

// LoadPassphrase reads a BIP39 passphrase from a file, with the same checks
// as LoadSeed. One trailing newline (LF or CRLF), which editors add, is not
// part of it; other whitespace is. An empty passphrase is refused: leave the
// file out to use none.
func LoadPassphrase(path string) (string, error) {
	text, err := readSecretFile("passphrase file", path, maxPassphraseFile, "it should hold one passphrase")
	if err != nil {
		return "", err
	}
	s, ok := strings.CutSuffix(string(text), "\r\n")
	if !ok {
		s = strings.TrimSuffix(s, "\n")
	}
	if s == "" {
		return "", fmt.Errorf("passphrase file %s: %w: empty; to use no passphrase, configure no passphrase file", path, ErrInvalidSeed)
	}
	return s, nil
}

// readSecretFile reads a file holding a secret, refusing one that is not a
// regular file, that its group or others may read or write, or that is
// longer than max. No error quotes the content.
func readSecretFile(what, path string, max int, holds string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("%s %s: cannot read it (%w); it must be readable by the user sluice runs as", what, path, err)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the mode checked is the mode of
	// what is read.
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s: %w: not a regular file (%s)", what, path, ErrInvalidSeed, st.Mode())
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s %s: %w: mode %04o lets group or others read or write it; run chmod 600 %s",
			what, path, ErrInvalidSeed, perm, path)
	}
	text, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if len(text) > max {
		return nil, fmt.Errorf("%s %s: %w: longer than %d bytes; %s", what, path, ErrInvalidSeed, max, holds)
	}
	return text, nil
}

// parseSeed tells a mnemonic from hex by its words: a mnemonic is several,
// hex is one. No error quotes the input, not even one word of it.
func parseSeed(s, passphrase string) ([]byte, error) {
	// BIP39 hashes the NFKD form of the sentence and of the passphrase, so
	// a passphrase typed with composed accents gives the same seed as other
	// wallets give it.
	words := strings.Fields(norm.NFKD.String(s))
	switch {
	case len(words) == 0:
		return nil, fmt.Errorf("seed: %w: empty; want a BIP39 mnemonic or 32 to 128 hex digits", ErrInvalidSeed)
	case len(words) == 1 && isHexToken(words[0]):
		if passphrase != "" {
			return nil, fmt.Errorf("hex seed: %w: a passphrase applies only to a mnemonic", ErrInvalidSeed)
		}
		return parseHexSeed(words[0])
	default:
		return mnemonicSeed(words, passphrase)
	}
}

// isHexToken reports whether t looks like a hex seed: an optional 0x and hex
// digits only. A few words ("face") pass too, but one word alone is never a
// mnemonic, so reading it as hex changes only which error is returned.
func isHexToken(t string) bool {
	t = strings.TrimPrefix(strings.TrimPrefix(t, "0x"), "0X")
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		if !isHexDigit(t[i]) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func parseHexSeed(t string) ([]byte, error) {
	t = strings.TrimPrefix(strings.TrimPrefix(t, "0x"), "0X")
	if len(t)%2 != 0 {
		return nil, fmt.Errorf("hex seed (%d digits): %w: odd number of hex digits", len(t), ErrInvalidSeed)
	}
	n := len(t) / 2
	if n < minSeedBytes || n > maxSeedBytes {
		return nil, fmt.Errorf("hex seed (%d bytes): %w: BIP32 seeds are %d to %d bytes (%d to %d hex digits)",
			n, ErrInvalidSeed, minSeedBytes, maxSeedBytes, 2*minSeedBytes, 2*maxSeedBytes)
	}
	b, err := hex.DecodeString(t)
	if err != nil {
		// isHexToken admitted only hex digits, so this cannot happen; the
		// decoder's message quotes a byte of the secret, so it is dropped.
		return nil, fmt.Errorf("hex seed (%d bytes): %w: not hex", n, ErrInvalidSeed)
	}
	return b, nil
}

// mnemonicSeed checks a BIP39 English mnemonic and stretches it into the
// 64-byte seed. Errors give word counts and positions, never a word.
func mnemonicSeed(words []string, passphrase string) ([]byte, error) {
	n := len(words)
	what := fmt.Sprintf("mnemonic (%d words)", n)
	if n == 1 {
		what = "mnemonic (1 word)"
	}
	if n < 12 || n > 24 || n%3 != 0 {
		return nil, fmt.Errorf("%s: %w: a BIP39 mnemonic has 12, 15, 18, 21 or 24 words", what, ErrInvalidSeed)
	}
	for i, w := range words {
		// The wordlist is lowercase; "Abandon" typed from paper means abandon.
		words[i] = strings.ToLower(w)
		if _, ok := bip39.GetWordIndex(words[i]); !ok {
			return nil, fmt.Errorf("%s: %w: word %d is not in the BIP39 English wordlist", what, ErrInvalidSeed, i+1)
		}
	}
	// The sentence is hashed as written in the wordlist: lowercase words
	// joined by single spaces, whatever whitespace separated them here.
	sentence := strings.Join(words, " ")
	if _, err := bip39.EntropyFromMnemonic(sentence); err != nil {
		if errors.Is(err, bip39.ErrChecksumIncorrect) {
			return nil, fmt.Errorf("%s: %w: checksum does not match; a word is wrong or out of place", what, ErrInvalidSeed)
		}
		// Its other messages may quote a word: keep them out.
		return nil, fmt.Errorf("%s: %w: rejected by the BIP39 decoder", what, ErrInvalidSeed)
	}
	return bip39.NewSeed(sentence, norm.NFKD.String(passphrase)), nil
}
