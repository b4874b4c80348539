package merchant

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/internal/secrets"
	"github.com/sluicepay/sluice/internal/testledger"
)

func testKey(t *testing.T, b byte) *secrets.Key {
	t.Helper()
	k, err := secrets.NewKey(bytes.Repeat([]byte{b}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// stored reads a merchant's secret columns as they are in the ledger.
func stored(t *testing.T, db *pgxpool.Pool, id int64) (current, previous string, until *time.Time) {
	t.Helper()
	err := db.QueryRow(context.Background(), `SELECT webhook_secret, previous_webhook_secret, previous_webhook_secret_expires_at
		FROM merchants WHERE id = $1`, id).Scan(&current, &previous, &until)
	if err != nil {
		t.Fatal(err)
	}
	return current, previous, until
}

func TestRotateSecret(t *testing.T) {
	ctx := context.Background()
	db := testledger.Fresh(t)
	key := testKey(t, 1)
	c, err := Create(ctx, db, Spec{Name: "shop", SecretKey: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cur, _, _ := stored(t, db, c.ID)
	if !secrets.IsSealed(cur) || strings.Contains(cur, c.WebhookSecret) {
		t.Fatalf("created with a key, the secret is stored as %q", cur)
	}
	if got, err := key.OpenWebhookSecret(c.ID, cur); err != nil || got != c.WebhookSecret {
		t.Fatalf("the stored secret opens to %q, %v", got, err)
	}

	r, err := RotateSecret(ctx, db, key, c.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r.WebhookSecret == c.WebhookSecret || len(r.WebhookSecret) != 64 || r.PreviousValidUntil == nil ||
		time.Until(*r.PreviousValidUntil) < 59*time.Minute || r.Dropped {
		t.Fatalf("rotated: %+v", r)
	}
	cur, prev, until := stored(t, db, c.ID)
	if got, _ := key.OpenWebhookSecret(c.ID, cur); got != r.WebhookSecret {
		t.Fatal("the new secret is not the current one")
	}
	if got, _ := key.OpenWebhookSecret(c.ID, prev); got != c.WebhookSecret {
		t.Fatal("the replaced secret is not kept for the overlap")
	}
	if until == nil || !until.Equal(*r.PreviousValidUntil) {
		t.Fatalf("overlap ends %v, reported %v", until, r.PreviousValidUntil)
	}

	// again during the overlap: the first secret is dropped, only two are ever valid
	r2, err := RotateSecret(ctx, db, key, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !r2.Dropped || r2.PreviousValidUntil != nil {
		t.Fatalf("rotated with no overlap: %+v", r2)
	}
	if _, prev, until := stored(t, db, c.ID); prev != "" || until != nil {
		t.Fatalf("with no overlap the previous secret is %q until %v", prev, until)
	}

	for _, bad := range []time.Duration{-time.Second, MaxOverlap + time.Second} {
		if _, err := RotateSecret(ctx, db, key, c.ID, bad); err == nil {
			t.Errorf("overlap %s accepted", bad)
		}
	}
	if _, err := RotateSecret(ctx, db, key, 999999, time.Hour); err == nil || !strings.Contains(err.Error(), "no merchant 999999") {
		t.Errorf("unknown merchant: %v", err)
	}
	// with another key the current secret cannot sign during an overlap: refused, nothing changed
	before, _, _ := stored(t, db, c.ID)
	if _, err := RotateSecret(ctx, db, testKey(t, 2), c.ID, time.Hour); !errors.Is(err, secrets.ErrWrongKey) ||
		!strings.Contains(err.Error(), "--overlap 0") {
		t.Errorf("rotation with a wrong key: %v", err)
	}
	if after, _, _ := stored(t, db, c.ID); after != before {
		t.Error("a refused rotation changed the secret")
	}
}

func TestRotatePlaintextSecret(t *testing.T) {
	ctx := context.Background()
	db := testledger.Fresh(t)
	c, err := Create(ctx, db, Spec{Name: "shop"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cur, _, _ := stored(t, db, c.ID); cur != c.WebhookSecret {
		t.Fatal("without a key the secret is stored as it is")
	}
	// a key configured since: the new secret and the replaced one are sealed
	key := testKey(t, 1)
	r, err := RotateSecret(ctx, db, key, c.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cur, prev, _ := stored(t, db, c.ID)
	if !secrets.IsSealed(cur) || !secrets.IsSealed(prev) {
		t.Fatalf("stored %q and %q", cur, prev)
	}
	if got, _ := key.OpenWebhookSecret(c.ID, prev); got != c.WebhookSecret {
		t.Fatal("the replaced secret changed")
	}
	if got, _ := key.OpenWebhookSecret(c.ID, cur); got != r.WebhookSecret {
		t.Fatal("the new secret is not stored")
	}
}

func TestEncryptCheckRekey(t *testing.T) {
	ctx := context.Background()
	db := testledger.Fresh(t)
	var plain []Created
	for range 3 {
		c, err := Create(ctx, db, Spec{Name: "shop"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		plain = append(plain, c)
	}
	if _, err := RotateSecret(ctx, db, nil, plain[0].ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	if n, err := CheckSecrets(ctx, db, nil); err != nil || n != 3 {
		t.Fatalf("check without a key: %d in the clear, %v", n, err)
	}
	key := testKey(t, 1)
	if n, err := EncryptPlaintext(ctx, db, key); err != nil || n != 3 {
		t.Fatalf("encrypt: %d, %v", n, err)
	}
	if n, err := EncryptPlaintext(ctx, db, key); err != nil || n != 0 {
		t.Fatalf("encrypt again: %d, %v (want nothing to do)", n, err)
	}
	for _, c := range plain {
		cur, prev, _ := stored(t, db, c.ID)
		if !secrets.IsSealed(cur) || (prev != "" && !secrets.IsSealed(prev)) {
			t.Fatalf("merchant %d still in the clear: %q %q", c.ID, cur, prev)
		}
		if c.ID != plain[0].ID {
			if got, _ := key.OpenWebhookSecret(c.ID, cur); got != c.WebhookSecret {
				t.Fatalf("merchant %d's secret changed", c.ID)
			}
		} else if got, _ := key.OpenWebhookSecret(c.ID, prev); got != c.WebhookSecret {
			t.Fatal("the previous secret changed")
		}
	}
	if n, err := CheckSecrets(ctx, db, key); err != nil || n != 0 {
		t.Fatalf("check: %d in the clear, %v", n, err)
	}
	// a wrong key, or none: every merchant named, no secret shown
	for _, k := range []*secrets.Key{testKey(t, 2), nil} {
		_, err := CheckSecrets(ctx, db, k)
		if err == nil {
			t.Fatal("secrets opened with the wrong key")
		}
		for _, c := range plain {
			if !strings.Contains(err.Error(), " "+itoa(c.ID)) || strings.Contains(err.Error(), c.WebhookSecret) {
				t.Fatalf("error %q must name merchant %d and no secret", err, c.ID)
			}
		}
	}
	// a ciphertext moved to another merchant's row does not open
	cur0, _, _ := stored(t, db, plain[0].ID)
	if _, err := db.Exec(ctx, "UPDATE merchants SET webhook_secret = $2 WHERE id = $1", plain[1].ID, cur0); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckSecrets(ctx, db, key); !errors.Is(err, secrets.ErrWrongKey) || !strings.Contains(err.Error(), itoa(plain[1].ID)) {
		t.Fatalf("a moved ciphertext: %v", err)
	}
	// rekeying stops at it, changing nothing
	newKey := testKey(t, 3)
	if _, err := Rekey(ctx, db, key, newKey); err == nil {
		t.Fatal("rekeyed with a secret that does not open")
	}
	if n, _ := CheckSecrets(ctx, db, key); n != 0 {
		t.Fatal("a failed rekey changed rows")
	}
	if _, err := db.Exec(ctx, "UPDATE merchants SET webhook_secret = $2 WHERE id = $1", plain[1].ID, plain[1].WebhookSecret); err != nil {
		t.Fatal(err)
	}
	if n, err := Rekey(ctx, db, key, newKey); err != nil || n != 3 {
		t.Fatalf("rekey: %d, %v", n, err)
	}
	if _, err := CheckSecrets(ctx, db, newKey); err != nil {
		t.Fatalf("after rekey: %v", err)
	}
	// and back to the clear, as an older sluice reads them
	if _, err := Rekey(ctx, db, newKey, nil); err != nil {
		t.Fatal(err)
	}
	if cur, _, _ := stored(t, db, plain[2].ID); cur != plain[2].WebhookSecret {
		t.Fatal("decrypted, the secret is not the original")
	}
}

func TestRotateKey(t *testing.T) {
	ctx := context.Background()
	db := testledger.Fresh(t)
	nets, _ := ParseNetworks([]string{"203.0.113.0/24"})
	exp := time.Now().Add(90 * 24 * time.Hour)
	c, err := Create(ctx, db, Spec{Name: "shop", Key: KeySpec{Name: "prod", Scopes: []string{ScopeRead, ScopeWallet},
		Networks: nets, RateLimit: 7, ExpiresAt: &exp}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := nets[0].Addr().Next()
	old, err := Authenticate(ctx, db, c.APIKey, client)
	if err != nil {
		t.Fatal(err)
	}
	r, err := RotateKey(ctx, db, c.ID, old.Prefix, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r.OldID != old.KeyID || r.OldPrefix != old.Prefix || time.Until(r.OldEndsAt) > time.Hour || time.Until(r.OldEndsAt) < 59*time.Minute {
		t.Fatalf("rotated: %+v", r)
	}
	p, err := Authenticate(ctx, db, r.APIKey, client)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Scopes, ",") != "read,wallet" || p.RateLimit != 7 || !p.Bound {
		t.Fatalf("the new key differs: %+v", p)
	}
	if _, err := Authenticate(ctx, db, r.APIKey, nets[0].Addr().Prev()); !errors.Is(err, ErrNetwork) {
		t.Fatalf("the new key's networks: %v", err)
	}
	var name string
	var newExp time.Time
	if err := db.QueryRow(ctx, "SELECT name, expires_at FROM api_keys WHERE id = $1", r.ID).Scan(&name, &newExp); err != nil {
		t.Fatal(err)
	}
	if name != "prod" || time.Until(newExp) < 89*24*time.Hour {
		t.Fatalf("the new key is %q expiring %v, want prod with the old key's 90 days", name, newExp)
	}
	// the old key works through the overlap, and not after
	if _, err := Authenticate(ctx, db, c.APIKey, client); err != nil {
		t.Fatalf("old key during the overlap: %v", err)
	}
	if _, err := db.Exec(ctx, "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", r.OldID); err != nil {
		t.Fatal(err)
	}
	if _, err := Authenticate(ctx, db, c.APIKey, client); !errors.Is(err, ErrExpiredKey) {
		t.Fatalf("old key after the overlap: %v", err)
	}
	if _, err := RotateKey(ctx, db, c.ID, old.Prefix, time.Hour); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("rotating an expired key: %v", err)
	}

	// overlap 0: revoked at once, found by id
	r2, err := RotateKey(ctx, db, c.ID, itoa(r.ID), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Authenticate(ctx, db, r.APIKey, client); !errors.Is(err, ErrRevokedKey) {
		t.Fatalf("with no overlap the old key: %v", err)
	}
	if _, err := Authenticate(ctx, db, r2.APIKey, client); err != nil {
		t.Fatal(err)
	}
	if _, err := RotateKey(ctx, db, c.ID, r.Prefix, 0); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("rotating a revoked key: %v", err)
	}
	if _, err := RotateKey(ctx, db, c.ID+1, r2.Prefix, 0); err == nil || !strings.Contains(err.Error(), "has no key") {
		t.Fatalf("another merchant's key: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
