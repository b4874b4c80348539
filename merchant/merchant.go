package merchant

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/internal/secrets"
	"github.com/sluicepay/sluice/payments/webhook"
)

// Kinds of events a merchant can point a webhook at (iqpay flavour):
// created = "create invoice", confirmations = "update confirmations" (also
// a reorg's return to unconfirmed), confirmed = "confirm deposit", failed,
// and withdrawal (the withdrawal webhook, every status).
var Kinds = []string{"created", "confirmations", "confirmed", "failed", "withdrawal"}

// Methods a webhook may be sent with.
var Methods = []string{"GET", "POST", "PUT", "DELETE"}

// Endpoint is where one kind of event goes.
type Endpoint struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

// Spec describes a merchant to create.
type Spec struct {
	Name            string
	Webhooks        map[string]Endpoint // by kind
	Confirmations   map[string]int      // by currency, overriding the defaults
	ConvertCurrency string              // "", USD or EUR
	Key             KeySpec             // the first API key
	// SecretKey encrypts the webhook secret at rest (secrets.key_file);
	// nil stores it in the clear.
	SecretKey *secrets.Key
	// Chains are the currencies confirmations may be set for; nil: the built-ins.
	Chains *chain.Registry
}

// Created is what creation returns, once: the secrets are not kept in
// readable form (the API key) or never shown again (the webhook secret).
type Created struct {
	ID            int64  `json:"id"`
	APIKey        string `json:"api_key"`
	WebhookSecret string `json:"webhook_secret"`
}

// TargetCheck validates a webhook URL (scheme, length, private networks);
// webhook.ValidateTarget with the configured allowances is the real one.
type TargetCheck func(ctx context.Context, rawURL string) error

// Create adds a merchant with its webhook endpoints, confirmation overrides
// and first API key in one transaction.
func Create(ctx context.Context, db *pgxpool.Pool, s Spec, check TargetCheck) (Created, error) {
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" || len(s.Name) > 200 {
		return Created{}, errors.New("merchant name must be 1 to 200 characters")
	}
	if s.ConvertCurrency != "" && s.ConvertCurrency != "USD" && s.ConvertCurrency != "EUR" {
		return Created{}, fmt.Errorf("convert currency %q: one of USD, EUR (or none)", s.ConvertCurrency)
	}
	for kind, e := range s.Webhooks {
		if err := validEndpoint(ctx, kind, e, check); err != nil {
			return Created{}, err
		}
	}
	for cur, n := range s.Confirmations {
		if _, ok := s.Chains.Lookup(cur); !ok {
			return Created{}, fmt.Errorf("confirmations for %q: not a currency this sluice knows", cur)
		}
		if n < 1 || n > 1000 {
			return Created{}, fmt.Errorf("confirmations for %s: %d is not from 1 to 1000", cur, n)
		}
	}
	key, err := newKey()
	if err != nil {
		return Created{}, err
	}
	if err := s.Key.normalize(); err != nil {
		return Created{}, err
	}
	secret, err := randomHex(32)
	if err != nil {
		return Created{}, err
	}

	tx, err := db.Begin(ctx)
	if err != nil {
		return Created{}, fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	// The lock makes "next free HD account" safe against concurrent creations.
	if _, err := tx.Exec(ctx, "LOCK TABLE merchants IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		return Created{}, fmt.Errorf("ledger: %w", err)
	}
	out := Created{APIKey: key.text, WebhookSecret: secret}
	if err := tx.QueryRow(ctx, `INSERT INTO merchants (name, key_account, convert_currency)
		SELECT $1, coalesce(max(key_account) + 1, 0), $2 FROM merchants RETURNING id`,
		s.Name, s.ConvertCurrency).Scan(&out.ID); err != nil {
		return Created{}, fmt.Errorf("create merchant: %w", err)
	}
	// sealed once the id is known: the ciphertext is bound to it
	stored, err := s.SecretKey.SealWebhookSecret(out.ID, secret)
	if err != nil {
		return Created{}, err
	}
	if _, err := tx.Exec(ctx, "UPDATE merchants SET webhook_secret = $2 WHERE id = $1", out.ID, stored); err != nil {
		return Created{}, fmt.Errorf("create merchant: %w", err)
	}
	for kind, e := range s.Webhooks {
		if _, err := tx.Exec(ctx, "INSERT INTO merchant_webhooks (merchant_id, kind, method, url) VALUES ($1, $2, $3, $4)",
			out.ID, kind, strings.ToUpper(e.Method), e.URL); err != nil {
			return Created{}, fmt.Errorf("webhook %s: %w", kind, err)
		}
	}
	for cur, n := range s.Confirmations {
		if _, err := tx.Exec(ctx, "INSERT INTO merchant_confirmations (merchant_id, currency, confirmations) VALUES ($1, $2, $3)",
			out.ID, cur, n); err != nil {
			return Created{}, fmt.Errorf("confirmations %s: %w", cur, err)
		}
	}
	if _, err := insertKey(ctx, tx, out.ID, key, s.Key); err != nil {
		return Created{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Created{}, fmt.Errorf("ledger: %w", err)
	}
	return out, nil
}

// SetWebhooks points the merchant's events of each kind in endpoints at
// its endpoint, or stops sending them where the URL is "". Kinds not in
// endpoints keep theirs. Pending deliveries keep their target (a redelivery
// takes the new one).
func SetWebhooks(ctx context.Context, db *pgxpool.Pool, merchantID int64, endpoints map[string]Endpoint, check TargetCheck) error {
	for kind, e := range endpoints {
		if e.URL == "" && contains(Kinds, kind) {
			continue // stop sending this kind
		}
		if err := validEndpoint(ctx, kind, e, check); err != nil {
			return err
		}
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM merchants WHERE id = $1)", merchantID).Scan(&exists); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if !exists {
		return fmt.Errorf("no merchant %d", merchantID)
	}
	for kind, e := range endpoints {
		if e.URL == "" {
			_, err = tx.Exec(ctx, "DELETE FROM merchant_webhooks WHERE merchant_id = $1 AND kind = $2", merchantID, kind)
		} else {
			_, err = tx.Exec(ctx, `INSERT INTO merchant_webhooks (merchant_id, kind, method, url) VALUES ($1, $2, $3, $4)
				ON CONFLICT (merchant_id, kind) DO UPDATE SET method = excluded.method, url = excluded.url`,
				merchantID, kind, strings.ToUpper(e.Method), e.URL)
		}
		if err != nil {
			return fmt.Errorf("webhook %s: %w", kind, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// Webhooks returns the merchant's endpoint per kind.
func Webhooks(ctx context.Context, db *pgxpool.Pool, merchantID int64) (map[string]Endpoint, error) {
	rows, err := db.Query(ctx, "SELECT kind, method, url FROM merchant_webhooks WHERE merchant_id = $1", merchantID)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	out := map[string]Endpoint{}
	for rows.Next() {
		var kind string
		var e Endpoint
		if err := rows.Scan(&kind, &e.Method, &e.URL); err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		out[kind] = e
	}
	return out, rows.Err()
}

func validEndpoint(ctx context.Context, kind string, e Endpoint, check TargetCheck) error {
	if !contains(Kinds, kind) {
		return fmt.Errorf("webhook event %q: one of %s", kind, strings.Join(Kinds, ", "))
	}
	if !contains(Methods, strings.ToUpper(e.Method)) {
		return fmt.Errorf("webhook %s: method %q is not one of %s", kind, e.Method, strings.Join(Methods, ", "))
	}
	// GET and DELETE add the event's fields to the URL's own query: it may
	// not already use their names (a receiver could read the URL's value).
	flavour := webhook.FlavourIqpay
	if kind == webhook.FlavourWithdrawal {
		flavour = webhook.FlavourWithdrawal
	}
	if err := webhook.CheckOwnQuery(flavour, e.Method, e.URL); err != nil {
		return fmt.Errorf("webhook %s: %w", kind, err)
	}
	if check != nil {
		if err := check(ctx, e.URL); err != nil {
			return fmt.Errorf("webhook %s: %w", kind, err)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b), nil
}
