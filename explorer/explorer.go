package explorer

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	chainreg "github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/stores"
)

// Errors the API answers 404 and 400 to.
var (
	ErrNotFound = errors.New("not found")
	ErrBadInput = errors.New("invalid request")
)

// Reader answers explorer queries from the chain index.
type Reader struct {
	CH *stores.ClickHouse
}

// Page limits.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// canonical limits a table with chain, block_height and block_hash columns
// to the committed canonical chain; bind chain three times after it.
const canonical = store.CanonicalFilter

// orphaned lists the hashes of a chain's blocks a reorg took away; bind chain.
const orphaned = store.OrphanedBlocks

var (
	hexHash    = regexp.MustCompile(`^[0-9a-f]{64}$`)
	ethHash    = regexp.MustCompile(`^0x[0-9a-f]{64}$`)
	ethAddress = regexp.MustCompile(`^0x[0-9a-f]{40}$`)
	// Bitcoin-family addresses: base58 (case matters) or bech32 (one case)
	btcAddress = regexp.MustCompile(`^[0-9A-Za-z]{14,90}$`)
)

// IsEthereum tells an account chain (the EVM family) from the Bitcoin family.
func IsEthereum(chain string) bool { return chainreg.FamilyOf(chain) == chainreg.EVM }

// TxID checks and normalises a transaction id of chain.
func TxID(chain, s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if IsEthereum(chain) {
		if !ethHash.MatchString(s) {
			return "", fmt.Errorf("%w: %q is not a 0x-prefixed 32-byte hash", ErrBadInput, s)
		}
		return s, nil
	}
	if !hexHash.MatchString(s) {
		return "", fmt.Errorf("%w: %q is not a 64-hex-digit txid", ErrBadInput, s)
	}
	return s, nil
}

// Address checks and normalises an address of chain (Ethereum and bech32
// to lower case; base58 kept as written).
func Address(chain, s string) (string, error) {
	s = strings.TrimSpace(s)
	if IsEthereum(chain) {
		l := strings.ToLower(s)
		if !ethAddress.MatchString(l) {
			return "", fmt.Errorf("%w: %q is not a 0x-prefixed 20-byte address", ErrBadInput, s)
		}
		return l, nil
	}
	if !btcAddress.MatchString(s) {
		return "", fmt.Errorf("%w: %q is not a %s address", ErrBadInput, s, chain)
	}
	if l := strings.ToLower(s); strings.Contains(l, "1") && (strings.HasPrefix(l, "bc1") || strings.HasPrefix(l, "tb1") ||
		strings.HasPrefix(l, "bcrt1") || strings.HasPrefix(l, "ltc1") || strings.HasPrefix(l, "tltc1") || strings.HasPrefix(l, "rltc1")) {
		return l, nil
	}
	return s, nil
}

// Limit checks a page size ("" is the default).
func Limit(s string) (int, error) {
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, fmt.Errorf("%w: limit %q is not from 1 to %d", ErrBadInput, s, MaxLimit)
	}
	return n, nil
}

// cursor is a position in a newest-first list: items strictly before
// (height, key) come next. Blocks only add greater heights, so a cursor
// stays valid while the chain grows.
type cursor struct {
	height uint64
	key    string
}

func (c *cursor) String() string {
	if c == nil {
		return ""
	}
	return strconv.FormatUint(c.height, 10) + ":" + c.key
}

// parseCursor reads a cursor this package returned; key must match keyRe.
func parseCursor(s string, keyRe *regexp.Regexp) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	h, k, ok := strings.Cut(s, ":")
	height, err := strconv.ParseUint(h, 10, 64)
	if !ok || err != nil || !keyRe.MatchString(k) {
		return nil, fmt.Errorf("%w: cursor %q is not one this API returned", ErrBadInput, s)
	}
	return &cursor{height, k}, nil
}

// before is the SQL condition for rows after c in newest-first order, on
// columns height and key; with no cursor it is true. It returns its args.
func (c *cursor) before(height, key string) (string, []any) {
	if c == nil {
		return "1", nil
	}
	return fmt.Sprintf("(%s < ? OR (%s = ? AND %s < ?))", height, height, key), []any{c.height, c.height, c.key}
}

// HeightOrHash reads a block reference: a height (digits) or a hash.
func HeightOrHash(chain, s string) (height *uint64, hash string, err error) {
	if h, err := strconv.ParseUint(s, 10, 64); err == nil && len(s) < 20 {
		return &h, "", nil
	}
	hash, err = TxID(chain, s)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %q is neither a block height nor a block hash", ErrBadInput, s)
	}
	return nil, hash, nil
}
