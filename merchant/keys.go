package merchant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Scopes an API key may hold.
const (
	ScopeWallet   = "wallet"   // create deposit wallets (iqpay); reading them is "read"
	ScopeReceive  = "receive"  // litepay receive addresses
	ScopeRead     = "read"     // deposits, wallets, webhook deliveries
	ScopeWebhooks = "webhooks" // redeliver webhooks
	ScopeWithdraw = "withdraw" // withdrawals
)

// AllScopes is every scope, the default of a new key.
var AllScopes = []string{ScopeWallet, ScopeReceive, ScopeRead, ScopeWebhooks, ScopeWithdraw}

// KeySpec describes an API key to create.
type KeySpec struct {
	Name      string
	Scopes    []string       // default AllScopes
	Networks  []netip.Prefix // where it may be used from; empty: anywhere
	RateLimit int            // requests per second; 0: the server default
	ExpiresAt *time.Time
}

func (k *KeySpec) normalize() error {
	if len(k.Scopes) == 0 {
		k.Scopes = AllScopes
	}
	for _, s := range k.Scopes {
		if !contains(AllScopes, s) {
			return fmt.Errorf("scope %q: one of %s", s, strings.Join(AllScopes, ", "))
		}
	}
	if k.RateLimit < 0 {
		return errors.New("rate limit must be 0 (the server default) or more requests per second")
	}
	if k.ExpiresAt != nil && !k.ExpiresAt.After(time.Now()) {
		return fmt.Errorf("expiry %s is in the past", k.ExpiresAt.Format(time.RFC3339))
	}
	for i, p := range k.Networks {
		k.Networks[i] = p.Masked()
	}
	return nil
}

// A key reads sluice_<prefix>_<secret>: the prefix finds its row and is safe
// to show and log; the whole key is compared by its SHA-256 only.
type apiKey struct {
	prefix, text string
}

func newKey() (apiKey, error) {
	p := make([]byte, 6)
	s := make([]byte, 32)
	if _, err := rand.Read(p); err != nil {
		return apiKey{}, fmt.Errorf("random: %w", err)
	}
	if _, err := rand.Read(s); err != nil {
		return apiKey{}, fmt.Errorf("random: %w", err)
	}
	prefix := hex.EncodeToString(p)
	return apiKey{prefix: prefix, text: "sluice_" + prefix + "_" + base64.RawURLEncoding.EncodeToString(s)}, nil
}

func hashKey(text string) []byte {
	h := sha256.Sum256([]byte(text))
	return h[:]
}

func insertKey(ctx context.Context, tx pgx.Tx, merchantID int64, key apiKey, s KeySpec) (int64, error) {
	nets := make([]netip.Prefix, len(s.Networks))
	copy(nets, s.Networks)
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO api_keys (merchant_id, prefix, hash, name, scopes, allowed_cidrs, rate_limit, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		merchantID, key.prefix, hashKey(key.text), s.Name, s.Scopes, nets, s.RateLimit, s.ExpiresAt).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("create API key: %w", err)
	}
	return id, nil
}

// NewKey is a created key: its text is shown once.
type NewKey struct {
	ID     int64  `json:"key_id"`
	Prefix string `json:"prefix"`
	APIKey string `json:"api_key"`
}

// CreateKey adds an API key to a merchant.
func CreateKey(ctx context.Context, db *pgxpool.Pool, merchantID int64, s KeySpec) (NewKey, error) {
	if err := s.normalize(); err != nil {
		return NewKey{}, err
	}
	key, err := newKey()
	if err != nil {
		return NewKey{}, err
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return NewKey{}, fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM merchants WHERE id = $1)", merchantID).Scan(&exists); err != nil {
		return NewKey{}, fmt.Errorf("ledger: %w", err)
	}
	if !exists {
		return NewKey{}, fmt.Errorf("no merchant %d", merchantID)
	}
	id, err := insertKey(ctx, tx, merchantID, key, s)
	if err != nil {
		return NewKey{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return NewKey{}, fmt.Errorf("ledger: %w", err)
	}
	return NewKey{ID: id, Prefix: key.prefix, APIKey: key.text}, nil
}

// RevokeKey ends a key now; it is found by id or prefix. Revoking twice is
// not an error.
func RevokeKey(ctx context.Context, db *pgxpool.Pool, merchantID int64, idOrPrefix string) error {
	tag, err := db.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
		WHERE merchant_id = $1 AND (prefix = $2 OR id::text = $2)`, merchantID, idOrPrefix)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("merchant %d has no key %q", merchantID, idOrPrefix)
	}
	return nil
}

// Principal is an authenticated request's merchant and key.
type Principal struct {
	MerchantID int64
	KeyID      int64
	Prefix     string
	Scopes     []string
	RateLimit  int
	// Bound is true when the key may be used only from listed networks,
	// none of them a whole address family (/0); withdrawals and settlement
	// changes require it.
	Bound bool
}

// Can tells whether the key holds scope.
func (p Principal) Can(scope string) bool { return contains(p.Scopes, scope) }

// Authentication failures, each with its own HTTP status (iqpay's table).
var (
	ErrInvalidKey = errors.New("invalid API key")                      // 401
	ErrExpiredKey = errors.New("API key expired")                      // 403
	ErrRevokedKey = errors.New("API key revoked")                      // 401
	ErrNetwork    = errors.New("API key may not be used from this IP") // 401
)

// Authenticate checks a key from the Authorization header against the
// ledger and the client's IP.
func Authenticate(ctx context.Context, db *pgxpool.Pool, text string, client netip.Addr) (Principal, error) {
	text = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text), "Bearer "))
	rest, ok := strings.CutPrefix(text, "sluice_")
	prefix, _, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || len(prefix) != 12 {
		return Principal{}, ErrInvalidKey
	}
	var p Principal
	var hash []byte
	var nets []netip.Prefix
	var expires, revoked *time.Time
	err := db.QueryRow(ctx, `SELECT id, merchant_id, prefix, hash, scopes, allowed_cidrs, rate_limit, expires_at, revoked_at
		FROM api_keys WHERE prefix = $1`, prefix).Scan(&p.KeyID, &p.MerchantID, &p.Prefix, &hash, &p.Scopes, &nets, &p.RateLimit, &expires, &revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrInvalidKey
	}
	if err != nil {
		return Principal{}, fmt.Errorf("ledger: %w", err)
	}
	if subtle.ConstantTimeCompare(hash, hashKey(text)) != 1 {
		return Principal{}, ErrInvalidKey
	}
	if revoked != nil {
		return Principal{}, ErrRevokedKey
	}
	if expires != nil && !expires.After(time.Now()) {
		return Principal{}, ErrExpiredKey
	}
	// a /0 (0.0.0.0/0, ::/0) admits the whole address family: not a binding
	p.Bound = len(nets) > 0
	for _, n := range nets {
		if n.Bits() == 0 {
			p.Bound = false
		}
	}
	if len(nets) > 0 {
		allowed := false
		for _, n := range nets {
			if n.Contains(client.Unmap()) {
				allowed = true
				break
			}
		}
		if !allowed {
			return Principal{}, fmt.Errorf("%w (%s)", ErrNetwork, client)
		}
	}
	return p, nil
}
