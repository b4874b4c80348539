package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultBlockDeadAfter is how long a callback domain may fail without a
// single *ok* before it is blocked (receive.block_dead_after).
const DefaultBlockDeadAfter = 72 * time.Hour

// Domain is a litepay callback domain as operators list it.
type Domain struct {
	Domain       string     `json:"domain"`
	FailingSince *time.Time `json:"failing_since"`
	Failures     int64      `json:"failures"`
	LastOK       *time.Time `json:"last_ok_at"`
	LastError    string     `json:"last_error"`
	BlockedAt    *time.Time `json:"blocked_at"`
}

// CallbackDomain is the domain of a callback URL (its host, lower-case,
// without the port): what litepay blocks.
func CallbackDomain(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("callback URL %q has no host", rawURL)
	}
	return strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")), nil
}

// ErrDomainBlocked is returned by CheckDomain for a blocked callback domain.
var ErrDomainBlocked = errors.New("callback domain blocked")

// CheckDomain refuses a callback URL whose domain is blocked, saying why.
func CheckDomain(ctx context.Context, db *pgxpool.Pool, rawURL string) error {
	d, err := CallbackDomain(rawURL)
	if err != nil {
		return err
	}
	var since *time.Time
	var failures int64
	var blocked time.Time
	err = db.QueryRow(ctx, `SELECT failing_since, failures, blocked_at FROM callback_domains WHERE domain = $1 AND blocked_at IS NOT NULL`, d).
		Scan(&since, &failures, &blocked)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	from := blocked
	if since != nil {
		from = *since
	}
	return fmt.Errorf("%w: callbacks to %s have failed (%d times, no *ok* since %s); it is blocked since %s, ask the operator to unblock it once it answers",
		ErrDomainBlocked, d, failures, from.UTC().Format(time.RFC3339), blocked.UTC().Format(time.RFC3339))
}

// noteDomain records a litepay callback's outcome for its domain, in the
// attempt's transaction: *ok* clears it (and lifts a block); a failure
// starts or extends its failing streak, which blocks it past blockAfter.
func noteDomain(ctx context.Context, tx pgx.Tx, rawURL string, acked bool, why string, blockAfter time.Duration) (blocked bool, err error) {
	d, err := CallbackDomain(rawURL)
	if err != nil {
		return false, nil // an unparsable URL is failed elsewhere
	}
	if acked {
		_, err = tx.Exec(ctx, `INSERT INTO callback_domains (domain, last_ok_at) VALUES ($1, now())
			ON CONFLICT (domain) DO UPDATE SET failing_since = NULL, failures = 0, last_ok_at = now(), last_error = '',
				blocked_at = NULL, updated_at = now()`, d)
		return false, err
	}
	err = tx.QueryRow(ctx, `INSERT INTO callback_domains AS c (domain, failing_since, failures, last_error) VALUES ($1, now(), 1, $2)
		ON CONFLICT (domain) DO UPDATE SET failing_since = coalesce(c.failing_since, now()), failures = c.failures + 1,
			last_error = $2, updated_at = now(),
			blocked_at = CASE WHEN c.blocked_at IS NULL AND coalesce(c.failing_since, now()) <= now() - $3 * interval '1 millisecond'
				THEN now() ELSE c.blocked_at END
		RETURNING blocked_at IS NOT NULL AND blocked_at = now()`, d, why, blockAfter.Milliseconds()).Scan(&blocked)
	return blocked, err
}

// Domains lists the callback domains that failed or are blocked.
func Domains(ctx context.Context, db *pgxpool.Pool, all bool) ([]Domain, error) {
	rows, err := db.Query(ctx, `SELECT domain, failing_since, failures, last_ok_at, last_error, blocked_at FROM callback_domains
		WHERE $1 OR failing_since IS NOT NULL OR blocked_at IS NOT NULL ORDER BY blocked_at IS NULL, domain`, all)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Domain, error) {
		var d Domain
		return d, r.Scan(&d.Domain, &d.FailingSince, &d.Failures, &d.LastOK, &d.LastError, &d.BlockedAt)
	})
}

// Unblock lifts a domain's block and forgets its failing streak; false if
// it was not blocked.
func Unblock(ctx context.Context, db *pgxpool.Pool, domain string) (bool, error) {
	tag, err := db.Exec(ctx, `UPDATE callback_domains SET blocked_at = NULL, failing_since = NULL, failures = 0, updated_at = now()
		WHERE domain = $1 AND blocked_at IS NOT NULL`, strings.ToLower(strings.TrimSpace(domain)))
	if err != nil {
		return false, fmt.Errorf("ledger: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
