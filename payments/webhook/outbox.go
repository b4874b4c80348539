package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// fanOutBatch is how many outbox events one fan-out transaction takes.
const fanOutBatch = 500

// errDepositFailed is the last_error of a litepay delivery stopped because
// its deposit failed; the same text lets a deposit that comes back to life
// find its callback again.
const errDepositFailed = "not sent: the deposit failed (its transaction was double-spent, replaced or dropped)"

// fanOut turns undispatched deposit and withdrawal events into deliveries and marks them
// dispatched, in one transaction; SKIP LOCKED lets several processes share
// the work. It returns how many events it took.
//
// iqpay: one delivery per event whose merchant has an endpoint for the
// event's kind (a reorg's unconfirmed goes to the confirmations endpoint).
// litepay: one delivery per deposit, made on its created event, for a
// receive address with callback_req; it is resent per block (see deliver).
// withdrawal: one delivery per withdrawal event whose merchant has a
// 'withdrawal' endpoint.
func fanOut(ctx context.Context, db *pgxpool.Pool) (int, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("webhook fan-out: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	rows, err := tx.Query(ctx, `SELECT id FROM deposit_events WHERE NOT dispatched ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, fanOutBatch)
	if err != nil {
		return 0, fmt.Errorf("webhook fan-out: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("webhook fan-out: %w", err)
	}
	var wids []int64
	if len(ids) < fanOutBatch {
		rows, err := tx.Query(ctx, `SELECT id FROM withdrawal_events WHERE NOT dispatched ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
			fanOutBatch-len(ids))
		if err != nil {
			return 0, fmt.Errorf("webhook fan-out: %w", err)
		}
		if wids, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return 0, fmt.Errorf("webhook fan-out: %w", err)
		}
	}
	if len(ids)+len(wids) == 0 {
		return 0, nil
	}
	if len(wids) > 0 {
		// iqpay's withdrawal webhook, to the merchant's 'withdrawal' endpoint
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (withdrawal_event_id, withdrawal_id, merchant_id, flavour, method, url)
			SELECT e.id, e.withdrawal_id, w.merchant_id, 'withdrawal', mw.method, mw.url
			FROM withdrawal_events e JOIN withdrawals w ON w.id = e.withdrawal_id
			JOIN merchant_webhooks mw ON mw.merchant_id = w.merchant_id AND mw.kind = 'withdrawal'
			WHERE e.id = ANY($1) ORDER BY e.id
			ON CONFLICT (withdrawal_event_id) DO NOTHING`, wids); err != nil {
			return 0, fmt.Errorf("webhook fan-out of withdrawal events %d..%d: %w", wids[0], wids[len(wids)-1], err)
		}
		if _, err := tx.Exec(ctx, `UPDATE withdrawal_events SET dispatched = true WHERE id = ANY($1)`, wids); err != nil {
			return 0, fmt.Errorf("webhook fan-out: %w", err)
		}
	}
	if len(ids) == 0 {
		return len(wids), tx.Commit(ctx)
	}
	stmts := []string{
		// iqpay, in event order so delivery ids follow it too
		`INSERT INTO webhook_deliveries (event_id, deposit_id, merchant_id, flavour, method, url)
		SELECT e.id, e.deposit_id, w.merchant_id, 'iqpay', mw.method, mw.url
		FROM deposit_events e JOIN deposits d ON d.id = e.deposit_id JOIN wallets w ON w.id = d.wallet_id
		JOIN merchant_webhooks mw ON mw.merchant_id = w.merchant_id
			AND mw.kind = CASE e.kind WHEN 'unconfirmed' THEN 'confirmations' ELSE e.kind END
		WHERE e.id = ANY($1)
			-- a litepay receive address is litepay's alone: its callback, never an iqpay webhook
			AND NOT EXISTS (SELECT 1 FROM receive_addresses ra WHERE ra.wallet_id = w.id)
		ORDER BY e.id
		ON CONFLICT (event_id, flavour) DO NOTHING`,
		// litepay: the deposit's one callback
		`INSERT INTO webhook_deliveries (event_id, deposit_id, merchant_id, flavour, method, url)
		SELECT e.id, e.deposit_id, w.merchant_id, 'litepay', 'GET', ra.callback_url
		FROM deposit_events e JOIN deposits d ON d.id = e.deposit_id JOIN wallets w ON w.id = d.wallet_id
		JOIN receive_addresses ra ON ra.wallet_id = w.id
		WHERE e.id = ANY($1) AND e.kind = 'created' AND ra.callback_req AND ra.callback_url <> ''
		ORDER BY e.id
		ON CONFLICT (event_id, flavour) DO NOTHING`,
		// a failed deposit stops its litepay callback: no more "payment received" for money that is gone
		`UPDATE webhook_deliveries wd SET state = 'failed', last_error = '` + errDepositFailed + `'
		FROM deposit_events e
		WHERE e.id = ANY($1) AND e.kind = 'failed' AND wd.deposit_id = e.deposit_id
			AND wd.flavour = 'litepay' AND wd.state = 'pending'`,
		// ... and a failed deposit that is mined after all gets it back
		`UPDATE webhook_deliveries wd SET state = 'pending', next_at = now(), last_error = ''
		FROM deposit_events e
		WHERE e.id = ANY($1) AND e.kind IN ('confirmations', 'confirmed') AND wd.deposit_id = e.deposit_id
			AND wd.flavour = 'litepay' AND wd.state = 'failed' AND wd.last_error = '` + errDepositFailed + `'`,
		`UPDATE deposit_events SET dispatched = true WHERE id = ANY($1)`,
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s, ids); err != nil {
			return 0, fmt.Errorf("webhook fan-out of events %d..%d: %w", ids[0], ids[len(ids)-1], err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("webhook fan-out: %w", err)
	}
	return len(ids) + len(wids), nil
}

// rearmLitepay makes due again the litepay callbacks that wait for a new
// block (next_at = infinity) once their chain's tip moved after their last
// attempt. Both times are the database's clock; an attempt's time is when
// it was claimed (and record makes one due at once when a block came
// during its request).
func rearmLitepay(ctx context.Context, db Querier) (int64, error) {
	tag, err := db.Exec(ctx, `UPDATE webhook_deliveries wd SET next_at = now()
		FROM deposits d JOIN chain_checkpoints c ON c.chain = d.chain
		WHERE wd.state = 'pending' AND wd.flavour = 'litepay' AND wd.next_at = 'infinity' AND d.id = wd.deposit_id
			AND c.updated_at > coalesce((SELECT max(a.at) FROM webhook_attempts a WHERE a.delivery_id = wd.id), '-infinity')`)
	if err != nil {
		return 0, fmt.Errorf("webhook litepay resends: %w", err)
	}
	return tag.RowsAffected(), nil
}

// tipsChanged returns the latest checkpoint time, which moves with every
// new block or reorg of any chain: rearmLitepay has work only then.
func tipsChanged(ctx context.Context, db Querier) (time.Time, error) {
	var t time.Time
	if err := db.QueryRow(ctx, `SELECT coalesce(max(updated_at), 'epoch') FROM chain_checkpoints`).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("webhook: read chain tips: %w", err)
	}
	return t, nil
}

// eligible is the claim condition shared by the workers and the age
// metric: due, and no earlier event of the same deposit (or withdrawal)
// still on its way (pending in the same flavour, or not yet fanned out).
// Each pair of conditions is vacuous for the other kind of delivery, whose
// columns are NULL.
const eligible = `wd.state = 'pending' AND wd.next_at <= now()
	AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.deposit_id = wd.deposit_id AND p.flavour = wd.flavour
		AND p.state = 'pending' AND p.event_id < wd.event_id)
	AND NOT EXISTS (SELECT 1 FROM deposit_events e WHERE e.deposit_id = wd.deposit_id AND NOT e.dispatched AND e.id < wd.event_id)
	AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.withdrawal_id = wd.withdrawal_id
		AND p.state = 'pending' AND p.withdrawal_event_id < wd.withdrawal_event_id)
	AND NOT EXISTS (SELECT 1 FROM withdrawal_events e WHERE e.withdrawal_id = wd.withdrawal_id AND NOT e.dispatched
		AND e.id < wd.withdrawal_event_id)`

// backlog reads the outbox gauges: pending deliveries plus undispatched
// events, and the age of the oldest of them that waits on sluice (not on a
// receiver's retry or a new block).
func backlog(ctx context.Context, db Querier) (n int64, oldest time.Duration, err error) {
	var secs float64
	err = db.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM webhook_deliveries WHERE state = 'pending') + (SELECT count(*) FROM deposit_events WHERE NOT dispatched)
				+ (SELECT count(*) FROM withdrawal_events WHERE NOT dispatched),
			greatest(
				coalesce(extract(epoch FROM now() - (SELECT min(created_at) FROM deposit_events WHERE NOT dispatched)), 0),
				coalesce(extract(epoch FROM now() - (SELECT min(created_at) FROM withdrawal_events WHERE NOT dispatched)), 0),
				coalesce(extract(epoch FROM now() - (SELECT min(wd.next_at) FROM webhook_deliveries wd WHERE `+eligible+`)), 0))::float8`).
		Scan(&n, &secs)
	if err != nil {
		return 0, 0, fmt.Errorf("webhook backlog: %w", err)
	}
	return n, time.Duration(secs * float64(time.Second)), nil
}
