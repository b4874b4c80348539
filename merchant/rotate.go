package merchant

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/internal/secrets"
)

// MaxOverlap bounds how long a replaced secret or key stays valid.
const MaxOverlap = 30 * 24 * time.Hour

func checkOverlap(overlap time.Duration) error {
	if overlap < 0 || overlap > MaxOverlap {
		return fmt.Errorf("overlap %s: from 0 (switch at once) to %s", overlap, MaxOverlap)
	}
	return nil
}

// RotatedSecret is what RotateSecret returns, once: the new secret is not
// shown again.
type RotatedSecret struct {
	ID            int64  `json:"id"`
	WebhookSecret string `json:"webhook_secret"`
	// PreviousValidUntil is when the replaced secret stops signing; null
	// when it stopped at once (--overlap 0).
	PreviousValidUntil *time.Time `json:"previous_valid_until"`
	// Dropped is true when a secret from an earlier rotation was still in
	// its overlap: it stopped signing now.
	Dropped bool `json:"dropped_earlier_secret,omitempty"`
}

// RotateSecret gives the merchant a new webhook secret. For overlap after
// now, deliveries are signed with both the new and the replaced secret
// (two v2= signatures), then with the new one alone; overlap 0 switches at
// once. Only two secrets are ever valid: a secret still in the overlap of
// an earlier rotation stops at once. key seals the new secret (nil: stored
// in the clear); the replaced one is kept as stored, and is sealed first
// when it was in the clear and key is set.
func RotateSecret(ctx context.Context, db *pgxpool.Pool, key *secrets.Key, merchantID int64, overlap time.Duration) (RotatedSecret, error) {
	if err := checkOverlap(overlap); err != nil {
		return RotatedSecret{}, err
	}
	secret, err := randomHex(32)
	if err != nil {
		return RotatedSecret{}, err
	}
	stored, err := key.SealWebhookSecret(merchantID, secret)
	if err != nil {
		return RotatedSecret{}, err
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return RotatedSecret{}, fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	var current string
	var inOverlap bool
	err = tx.QueryRow(ctx, `SELECT webhook_secret, coalesce(previous_webhook_secret_expires_at > now(), false)
		FROM merchants WHERE id = $1 FOR UPDATE`, merchantID).Scan(&current, &inOverlap)
	if errors.Is(err, pgx.ErrNoRows) {
		return RotatedSecret{}, fmt.Errorf("no merchant %d", merchantID)
	}
	if err != nil {
		return RotatedSecret{}, fmt.Errorf("ledger: %w", err)
	}
	previous := ""
	if overlap > 0 {
		plain, err := key.OpenWebhookSecret(merchantID, current)
		if err != nil {
			return RotatedSecret{}, fmt.Errorf("%w; it cannot sign during an overlap: rotate with --overlap 0 to replace it at once", err)
		}
		if previous, err = key.SealWebhookSecret(merchantID, plain); err != nil {
			return RotatedSecret{}, err
		}
		if secrets.IsSealed(current) {
			previous = current // as it was: the same key sealed it
		}
	}
	out := RotatedSecret{ID: merchantID, WebhookSecret: secret, Dropped: inOverlap}
	err = tx.QueryRow(ctx, `UPDATE merchants SET webhook_secret = $2, previous_webhook_secret = $3,
			previous_webhook_secret_expires_at = CASE WHEN $4::bigint > 0 THEN now() + $4 * interval '1 millisecond' END,
			webhook_secret_rotated_at = now()
		WHERE id = $1 RETURNING previous_webhook_secret_expires_at`,
		merchantID, stored, previous, overlap.Milliseconds()).Scan(&out.PreviousValidUntil)
	if err != nil {
		return RotatedSecret{}, fmt.Errorf("rotate merchant %d's webhook secret: %w", merchantID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return RotatedSecret{}, fmt.Errorf("ledger: %w", err)
	}
	return out, nil
}

// RotatedKey is what RotateKey returns, once: the new key's text is not
// shown again.
type RotatedKey struct {
	NewKey
	OldID     int64  `json:"old_key_id"`
	OldPrefix string `json:"old_prefix"`
	// OldEndsAt is when the old key stops working: revoked now (overlap
	// 0), else it expires then (or earlier, at its own expiry).
	OldEndsAt time.Time `json:"old_key_ends_at"`
}

// RotateKey replaces an API key (found by id or prefix) with a new one of
// the same name, scopes, networks and rate limit, in one transaction. An
// old key that expires gives the new one the same lifetime from now. The
// old key keeps working for overlap (it expires then), or is revoked now
// when overlap is 0.
func RotateKey(ctx context.Context, db *pgxpool.Pool, merchantID int64, idOrPrefix string, overlap time.Duration) (RotatedKey, error) {
	if err := checkOverlap(overlap); err != nil {
		return RotatedKey{}, err
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return RotatedKey{}, fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	var out RotatedKey
	var s KeySpec
	var nets []netip.Prefix
	var created, now time.Time
	var expires, revoked *time.Time
	err = tx.QueryRow(ctx, `SELECT id, prefix, name, scopes, allowed_cidrs, rate_limit, created_at, expires_at, revoked_at, now()
		FROM api_keys WHERE merchant_id = $1 AND (prefix = $2 OR id::text = $2) FOR UPDATE`, merchantID, idOrPrefix).Scan(
		&out.OldID, &out.OldPrefix, &s.Name, &s.Scopes, &nets, &s.RateLimit, &created, &expires, &revoked, &now)
	if errors.Is(err, pgx.ErrNoRows) {
		return RotatedKey{}, fmt.Errorf("merchant %d has no key %q", merchantID, idOrPrefix)
	}
	if err != nil {
		return RotatedKey{}, fmt.Errorf("ledger: %w", err)
	}
	switch {
	case revoked != nil:
		return RotatedKey{}, fmt.Errorf("key %s of merchant %d was revoked at %s: create a new one with sluice merchant key create",
			out.OldPrefix, merchantID, revoked.UTC().Format(time.RFC3339))
	case expires != nil && !expires.After(now):
		return RotatedKey{}, fmt.Errorf("key %s of merchant %d expired at %s: create a new one with sluice merchant key create",
			out.OldPrefix, merchantID, expires.UTC().Format(time.RFC3339))
	}
	s.Networks = nets
	if expires != nil {
		at := now.Add(expires.Sub(created))
		s.ExpiresAt = &at
	}
	if err := s.normalize(); err != nil {
		return RotatedKey{}, err
	}
	key, err := newKey()
	if err != nil {
		return RotatedKey{}, err
	}
	if out.ID, err = insertKey(ctx, tx, merchantID, key, s); err != nil {
		return RotatedKey{}, err
	}
	out.Prefix, out.APIKey = key.prefix, key.text
	if overlap == 0 {
		err = tx.QueryRow(ctx, "UPDATE api_keys SET revoked_at = now() WHERE id = $1 RETURNING revoked_at", out.OldID).Scan(&out.OldEndsAt)
	} else {
		err = tx.QueryRow(ctx, `UPDATE api_keys SET expires_at = least(coalesce(expires_at, 'infinity'), now() + $2 * interval '1 millisecond')
			WHERE id = $1 RETURNING expires_at`, out.OldID, overlap.Milliseconds()).Scan(&out.OldEndsAt)
	}
	if err != nil {
		return RotatedKey{}, fmt.Errorf("rotate key %s: %w", out.OldPrefix, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return RotatedKey{}, fmt.Errorf("ledger: %w", err)
	}
	return out, nil
}
