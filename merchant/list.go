package merchant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/amount"
	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/internal/secrets"
)

// The operator's view of merchants: what they are set up with, never their
// secrets (the webhook secret, a key's hash).

// Summary is one merchant in the operator's list.
type Summary struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Keys      int       `json:"keys"`        // every API key, revoked and expired included
	Active    int       `json:"active_keys"` // neither revoked nor expired
	Endpoints int       `json:"webhook_endpoints"`
	Pending   int       `json:"deliveries_pending"`
	Failed    int       `json:"deliveries_failed"`
}

// List returns every merchant with its key, endpoint and delivery counts.
func List(ctx context.Context, db *pgxpool.Pool) ([]Summary, error) {
	rows, err := db.Query(ctx, `SELECT m.id, m.name, m.created_at,
			coalesce(k.total, 0), coalesce(k.active, 0), coalesce(w.n, 0), coalesce(d.pending, 0), coalesce(d.failed, 0)
		FROM merchants m
		LEFT JOIN (SELECT merchant_id, count(*) AS total,
				count(*) FILTER (WHERE (revoked_at IS NULL OR revoked_at > now()) AND (expires_at IS NULL OR expires_at > now())) AS active
			FROM api_keys GROUP BY merchant_id) k ON k.merchant_id = m.id
		LEFT JOIN (SELECT merchant_id, count(*) AS n FROM merchant_webhooks GROUP BY merchant_id) w ON w.merchant_id = m.id
		LEFT JOIN (SELECT merchant_id, count(*) FILTER (WHERE state = 'pending') AS pending,
				count(*) FILTER (WHERE state = 'failed') AS failed
			FROM webhook_deliveries WHERE state <> 'delivered' GROUP BY merchant_id) d ON d.merchant_id = m.id
		ORDER BY m.id`)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Summary, error) {
		var s Summary
		err := r.Scan(&s.ID, &s.Name, &s.CreatedAt, &s.Keys, &s.Active, &s.Endpoints, &s.Pending, &s.Failed)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return out, nil
}

// Key is an API key as the operator sees it: no secret, no hash.
type Key struct {
	ID         int64          `json:"key_id"`
	MerchantID int64          `json:"merchant_id"`
	Prefix     string         `json:"prefix"` // the part after sluice_, safe to show
	Name       string         `json:"name"`
	Scopes     []string       `json:"scopes"`
	Networks   []netip.Prefix `json:"networks"`   // empty: anywhere
	RateLimit  int            `json:"rate_limit"` // 0: the server default
	CreatedAt  time.Time      `json:"created_at"`
	ExpiresAt  *time.Time     `json:"expires_at"`
	RevokedAt  *time.Time     `json:"revoked_at"`
	State      string         `json:"state"` // active, expired or revoked
}

// Keys returns the API keys of one merchant, or of every merchant when
// merchantID is 0, by merchant and id.
func Keys(ctx context.Context, db *pgxpool.Pool, merchantID int64) ([]Key, error) {
	if merchantID != 0 {
		if err := exists(ctx, db, merchantID); err != nil {
			return nil, err
		}
	}
	rows, err := db.Query(ctx, `SELECT id, merchant_id, prefix, name, scopes, allowed_cidrs, rate_limit, created_at, expires_at, revoked_at,
			CASE WHEN revoked_at <= now() THEN 'revoked' WHEN expires_at <= now() THEN 'expired' ELSE 'active' END
		FROM api_keys WHERE $1::bigint = 0 OR merchant_id = $1 ORDER BY merchant_id, id`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Key, error) {
		var k Key
		err := r.Scan(&k.ID, &k.MerchantID, &k.Prefix, &k.Name, &k.Scopes, &k.Networks, &k.RateLimit, &k.CreatedAt,
			&k.ExpiresAt, &k.RevokedAt, &k.State)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return out, nil
}

// Balance is a merchant's balance of one currency (merchant_balance in the
// schema: what its confirmed hot-wallet sweeps brought, less its
// withdrawals and the network fees they bear), in base units.
type Balance struct {
	Currency string
	Units    *big.Int
	Decimals int // of the currency, for Decimal
}

// MarshalJSON shows the balance in base units and as an exact decimal.
func (b Balance) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"currency": b.Currency, "units": b.Units.String(), "amount": b.Decimal()})
}

// Decimal is the balance as an exact decimal of its currency.
func (b Balance) Decimal() string { return amount.Format(b.Units, b.Decimals) }

// Confirmation is the confirmations a merchant's deposits of a currency
// need, and whether the merchant set them or they are the default.
type Confirmation struct {
	Currency      string `json:"currency"`
	Confirmations int    `json:"confirmations"`
	Default       bool   `json:"default"`
}

// Detail is one merchant as the operator sees it.
type Detail struct {
	ID              int64     `json:"id"`
	Name            string    `json:"name"`
	CreatedAt       time.Time `json:"created_at"`
	KeyAccount      int       `json:"key_account"`      // its HD account for deposit addresses
	ConvertCurrency string    `json:"convert_currency"` // "", USD or EUR
	WatchOnly       []string  `json:"watch_only"`       // currencies whose wallets come from its xpub
	// The webhook secret's state, never the secret: encrypted at rest (with
	// secrets.key_file), when it was last rotated, and until when the one
	// it replaced still signs.
	SecretEncrypted bool                `json:"webhook_secret_encrypted"`
	SecretRotated   *time.Time          `json:"webhook_secret_rotated_at"`
	PreviousUntil   *time.Time          `json:"previous_webhook_secret_until"`
	Webhooks        map[string]Endpoint `json:"webhooks"` // by kind
	Confirmations   []Confirmation      `json:"confirmations"`
	Settlements     []Settlement        `json:"settlements"`
	Keys            []Key               `json:"keys"`
	Balances        []Balance           `json:"balances"`
}

// Show reads one merchant's settings, keys (without secrets) and balances
// in currencies (the configured ones: chain.Registry.Currencies).
func Show(ctx context.Context, db *pgxpool.Pool, merchantID int64, currencies []chain.Currency) (Detail, error) {
	d := Detail{ID: merchantID, WatchOnly: []string{}}
	var stored string
	err := db.QueryRow(ctx, `SELECT name, created_at, key_account, convert_currency,
			coalesce((SELECT array_agg(currency ORDER BY currency) FROM merchant_xpubs WHERE merchant_id = m.id), '{}'),
			webhook_secret, webhook_secret_rotated_at,
			CASE WHEN previous_webhook_secret <> '' AND previous_webhook_secret_expires_at > now() THEN previous_webhook_secret_expires_at END
		FROM merchants m WHERE id = $1`, merchantID).Scan(&d.Name, &d.CreatedAt, &d.KeyAccount, &d.ConvertCurrency, &d.WatchOnly,
		&stored, &d.SecretRotated, &d.PreviousUntil)
	d.SecretEncrypted = secrets.IsSealed(stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return Detail{}, fmt.Errorf("no merchant %d", merchantID)
	}
	if err != nil {
		return Detail{}, fmt.Errorf("ledger: %w", err)
	}
	if d.Webhooks, err = Webhooks(ctx, db, merchantID); err != nil {
		return Detail{}, err
	}
	set := map[string]int{}
	rows, err := db.Query(ctx, "SELECT currency, confirmations FROM merchant_confirmations WHERE merchant_id = $1", merchantID)
	if err != nil {
		return Detail{}, fmt.Errorf("ledger: %w", err)
	}
	for rows.Next() {
		var cur string
		var n int
		if err := rows.Scan(&cur, &n); err != nil {
			rows.Close()
			return Detail{}, fmt.Errorf("ledger: %w", err)
		}
		set[cur] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Detail{}, fmt.Errorf("ledger: %w", err)
	}
	for _, c := range currencies {
		cur := c.Code
		n, ok := set[cur]
		if !ok {
			n = c.Confirmations
		}
		d.Confirmations = append(d.Confirmations, Confirmation{Currency: cur, Confirmations: n, Default: !ok})
		s, err := GetSettlement(ctx, db, merchantID, cur)
		if err != nil {
			return Detail{}, err
		}
		d.Settlements = append(d.Settlements, s)
		var units string
		if err := db.QueryRow(ctx, "SELECT merchant_balance($1, $2)::text", merchantID, cur).Scan(&units); err != nil {
			return Detail{}, fmt.Errorf("ledger: %w", err)
		}
		v, ok := new(big.Int).SetString(units, 10)
		if !ok {
			return Detail{}, fmt.Errorf("ledger: balance %q of %s is not an integer", units, cur)
		}
		d.Balances = append(d.Balances, Balance{Currency: cur, Units: v, Decimals: c.Decimals})
	}
	if d.Keys, err = Keys(ctx, db, merchantID); err != nil {
		return Detail{}, err
	}
	return d, nil
}

func exists(ctx context.Context, db *pgxpool.Pool, merchantID int64) error {
	var ok bool
	if err := db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM merchants WHERE id = $1)", merchantID).Scan(&ok); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if !ok {
		return fmt.Errorf("no merchant %d", merchantID)
	}
	return nil
}
