package merchant

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/internal/secrets"
)

// storedSecrets is a merchant's webhook secrets as stored.
type storedSecrets struct {
	id                int64
	current, previous string
}

// EncryptPlaintext seals every webhook secret still stored in the clear
// (current or previous) with key and returns how many merchants it changed.
// Running it again changes nothing; concurrent runs wait for each other on
// the rows.
func EncryptPlaintext(ctx context.Context, db *pgxpool.Pool, key *secrets.Key) (int, error) {
	if key == nil {
		return 0, errors.New("no secrets key to encrypt with")
	}
	return rewriteSecrets(ctx, db, `(webhook_secret <> '' AND webhook_secret NOT LIKE 'v1:%')
		OR (previous_webhook_secret <> '' AND previous_webhook_secret NOT LIKE 'v1:%')`, nil, key)
}

// Rekey re-encrypts every merchant's webhook secrets from key from (nil:
// only plaintext ones can be read) to key to (nil: stores them in the
// clear, as an older sluice reads them), in one transaction: a secret that
// does not open with from changes nothing, and the error names its
// merchants. It returns how many merchants it rewrote.
func Rekey(ctx context.Context, db *pgxpool.Pool, from, to *secrets.Key) (int, error) {
	return rewriteSecrets(ctx, db, "webhook_secret <> '' OR previous_webhook_secret <> ''", from, to)
}

func rewriteSecrets(ctx context.Context, db *pgxpool.Pool, where string, from, to *secrets.Key) (int, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	rows, err := tx.Query(ctx, "SELECT id, webhook_secret, previous_webhook_secret FROM merchants WHERE "+where+" ORDER BY id FOR UPDATE")
	if err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	var all []storedSecrets
	for rows.Next() {
		var s storedSecrets
		if err := rows.Scan(&s.id, &s.current, &s.previous); err != nil {
			rows.Close()
			return 0, fmt.Errorf("ledger: %w", err)
		}
		all = append(all, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	var bad []int64
	var firstErr error
	for _, s := range all {
		cur, prev, err := reseal(s, from, to)
		if err != nil {
			bad = append(bad, s.id)
			firstErr = cmpErr(firstErr, err)
			continue
		}
		if _, err := tx.Exec(ctx, "UPDATE merchants SET webhook_secret = $2, previous_webhook_secret = $3 WHERE id = $1", s.id, cur, prev); err != nil {
			return 0, fmt.Errorf("ledger: %w", err)
		}
	}
	if len(bad) > 0 {
		return 0, badMerchants(bad, firstErr)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	return len(all), nil
}

func reseal(s storedSecrets, from, to *secrets.Key) (cur, prev string, err error) {
	for _, p := range []struct{ in, out *string }{{&s.current, &cur}, {&s.previous, &prev}} {
		if *p.in == "" {
			continue
		}
		plain, err := from.OpenWebhookSecret(s.id, *p.in)
		if err != nil {
			return "", "", err
		}
		if *p.out, err = to.SealWebhookSecret(s.id, plain); err != nil {
			return "", "", err
		}
	}
	return cur, prev, nil
}

// CheckSecrets opens every merchant's stored webhook secrets with key (nil:
// none configured) and returns how many are in the clear; an error names
// the merchants whose secrets do not open, never a secret.
func CheckSecrets(ctx context.Context, db *pgxpool.Pool, key *secrets.Key) (clear int, err error) {
	rows, err := db.Query(ctx, "SELECT id, webhook_secret, previous_webhook_secret FROM merchants ORDER BY id")
	if err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	var bad []int64
	var firstErr error
	for rows.Next() {
		var s storedSecrets
		if err := rows.Scan(&s.id, &s.current, &s.previous); err != nil {
			return 0, fmt.Errorf("ledger: %w", err)
		}
		plain := false
		for _, v := range []string{s.current, s.previous} {
			if v == "" {
				continue
			}
			if !secrets.IsSealed(v) {
				plain = true
			}
			if _, err := key.OpenWebhookSecret(s.id, v); err != nil {
				bad = append(bad, s.id)
				firstErr = cmpErr(firstErr, err)
				break
			}
		}
		if plain {
			clear++
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	if len(bad) > 0 {
		return clear, badMerchants(bad, firstErr)
	}
	return clear, nil
}

func cmpErr(first, err error) error {
	if first == nil {
		return err
	}
	return first
}

// badMerchants is one error for every merchant whose secret did not open,
// naming them all and saying why for the first.
func badMerchants(ids []int64, first error) error {
	if len(ids) == 1 {
		return first
	}
	names := make([]string, 0, min(len(ids), 20))
	for _, id := range ids[:min(len(ids), 20)] {
		names = append(names, strconv.FormatInt(id, 10))
	}
	more := ""
	if len(ids) > 20 {
		more = fmt.Sprintf(" and %d more", len(ids)-20)
	}
	return fmt.Errorf("the webhook secrets of merchants %s%s do not open (%d in all); the first: %w",
		strings.Join(names, ", "), more, len(ids), first)
}
