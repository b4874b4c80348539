package webhook

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Querier is what the API's operations need of the database: a pool, a
// connection or a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Errors of the API operations (the API answers 404 and 400 to them).
var (
	ErrNotFound  = errors.New("no such webhook delivery")
	ErrBadFilter = errors.New("invalid delivery filter")
)

// Delivery is one event's delivery to one target, with its log.
type Delivery struct {
	ID           int64  `json:"id"`
	EventID      int64  `json:"event_id"`      // a deposit's or a withdrawal's event (one sequence)
	DepositID    int64  `json:"deposit_id"`    // 0 for a withdrawal's
	WithdrawalID int64  `json:"withdrawal_id"` // 0 for a deposit's
	Flavour      string `json:"flavour"`       // iqpay, litepay or withdrawal
	// Kind is the event: created, confirmations, confirmed, unconfirmed,
	// failed (deposits), withdrawal
	Kind          string `json:"kind"`
	Confirmations int    `json:"confirmations"`
	// Status is the status the event announces (iqpay's 0, 1 or 2)
	Status   int    `json:"status"`
	Method   string `json:"method"`
	URL      string `json:"url"`
	State    string `json:"state"`    // pending, delivered, failed
	Attempts int    `json:"attempts"` // since it was created or last redelivered
	// NextAt is when it is tried next; nil once delivered or failed, and
	// while a litepay callback waits for the next block.
	NextAt      *time.Time `json:"next_at"`
	LastStatus  *int       `json:"last_status"` // HTTP status of the last request; nil if none came
	LastError   string     `json:"last_error"`
	CreatedAt   time.Time  `json:"created_at"`
	DeliveredAt *time.Time `json:"delivered_at"`
	Log         []Attempt  `json:"log"` // every attempt, oldest first
}

// Attempt is one entry of the delivery log.
type Attempt struct {
	At         time.Time `json:"at"`
	StatusCode *int      `json:"status_code"` // nil: no response (refused, timed out, not sent)
	Error      string    `json:"error"`       // "" when acknowledged
	DurationMS int       `json:"duration_ms"`
}

// ListFilter narrows ListDeliveries; zero values match everything.
type ListFilter struct {
	State        string // pending, delivered or failed
	Flavour      string // iqpay, litepay or withdrawal
	DepositID    int64
	WithdrawalID int64
	EventID      int64
	Cursor       string // the cursor a previous page returned; "" for the newest
	Limit        int    // 1 to 200; default 50
}

// deliveryFrom is the deliveries with their event, of either kind.
const deliveryFrom = `webhook_deliveries wd LEFT JOIN deposit_events e ON e.id = wd.event_id
	LEFT JOIN withdrawal_events we ON we.id = wd.withdrawal_event_id`

const deliveryColumns = `wd.id, coalesce(wd.event_id, wd.withdrawal_event_id), coalesce(wd.deposit_id, 0), coalesce(wd.withdrawal_id, 0),
	wd.flavour, coalesce(e.kind, 'withdrawal'), coalesce(e.confirmations, 0), coalesce(e.status, we.status), wd.method, wd.url, wd.state,
	wd.attempts, CASE WHEN wd.state = 'pending' AND wd.next_at <> 'infinity' THEN wd.next_at END,
	wd.last_status, wd.last_error, wd.created_at, wd.delivered_at`

// scanDelivery reads deliveryColumns, then the columns after them into extra.
func scanDelivery(row pgx.Row, extra ...any) (Delivery, error) {
	var d Delivery
	err := row.Scan(append([]any{&d.ID, &d.EventID, &d.DepositID, &d.WithdrawalID, &d.Flavour, &d.Kind, &d.Confirmations, &d.Status,
		&d.Method, &d.URL, &d.State, &d.Attempts, &d.NextAt, &d.LastStatus, &d.LastError, &d.CreatedAt, &d.DeliveredAt}, extra...)...)
	return d, err
}

// ListDeliveries returns the merchant's deliveries, newest first, each with
// its attempts, and the cursor of the next page ("" on the last one).
func ListDeliveries(ctx context.Context, db Querier, merchantID int64, f ListFilter) ([]Delivery, string, error) {
	out, next, err := listDeliveries(ctx, db, merchantID, false, f, 200)
	if err != nil {
		return nil, "", err
	}
	ds := make([]Delivery, len(out))
	for i, d := range out {
		ds[i] = d.Delivery
	}
	return ds, next, nil
}

// MerchantDelivery is a delivery with its merchant: the operator's view.
type MerchantDelivery struct {
	MerchantID int64 `json:"merchant_id"`
	Delivery
}

// OperatorMaxLimit is the most deliveries one ListAllDeliveries page holds.
const OperatorMaxLimit = 10000

// ListAllDeliveries is ListDeliveries for the operator: one merchant's
// deliveries, or every merchant's when merchantID is 0, pages of up to
// OperatorMaxLimit.
func ListAllDeliveries(ctx context.Context, db Querier, merchantID int64, f ListFilter) ([]MerchantDelivery, string, error) {
	return listDeliveries(ctx, db, merchantID, merchantID == 0, f, OperatorMaxLimit)
}

func listDeliveries(ctx context.Context, db Querier, merchantID int64, anyMerchant bool, f ListFilter, maxLimit int) ([]MerchantDelivery, string, error) {
	switch f.State {
	case "", "pending", "delivered", "failed":
	default:
		return nil, "", fmt.Errorf("%w: state %q is not pending, delivered or failed", ErrBadFilter, f.State)
	}
	switch f.Flavour {
	case "", "iqpay", "litepay", FlavourWithdrawal:
	default:
		return nil, "", fmt.Errorf("%w: flavour %q is not iqpay, litepay or withdrawal", ErrBadFilter, f.Flavour)
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	if f.Limit < 1 || f.Limit > maxLimit {
		return nil, "", fmt.Errorf("%w: limit %d is not from 1 to %d", ErrBadFilter, f.Limit, maxLimit)
	}
	var before int64
	if f.Cursor != "" {
		var err error
		if before, err = strconv.ParseInt(f.Cursor, 10, 64); err != nil || before <= 0 {
			return nil, "", fmt.Errorf("%w: cursor %q is not one this API returned", ErrBadFilter, f.Cursor)
		}
	}
	rows, err := db.Query(ctx, `SELECT `+deliveryColumns+`, wd.merchant_id FROM `+deliveryFrom+`
		WHERE (wd.merchant_id = $1 OR $9::boolean) AND ($2 = '' OR wd.state = $2) AND ($3 = '' OR wd.flavour = $3)
			AND ($4::bigint = 0 OR wd.deposit_id = $4) AND ($5::bigint = 0 OR coalesce(wd.event_id, wd.withdrawal_event_id) = $5)
			AND ($6::bigint = 0 OR wd.id < $6) AND ($8::bigint = 0 OR wd.withdrawal_id = $8)
		ORDER BY wd.id DESC LIMIT $7`, merchantID, f.State, f.Flavour, f.DepositID, f.EventID, before, f.Limit+1, f.WithdrawalID, anyMerchant)
	if err != nil {
		return nil, "", fmt.Errorf("webhook deliveries: %w", err)
	}
	var out []MerchantDelivery
	for rows.Next() {
		var md MerchantDelivery
		md.Delivery, err = scanDelivery(rows, &md.MerchantID)
		if err != nil {
			rows.Close()
			return nil, "", fmt.Errorf("webhook deliveries: %w", err)
		}
		out = append(out, md)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("webhook deliveries: %w", err)
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = strconv.FormatInt(out[len(out)-1].ID, 10)
	}
	ds := make([]Delivery, len(out))
	for i := range out {
		ds[i] = out[i].Delivery
	}
	if err := attachLogs(ctx, db, ds); err != nil {
		return nil, "", err
	}
	for i := range out {
		out[i].Delivery = ds[i]
	}
	return out, next, nil
}

// attachLogs reads the attempts of ds in one query.
func attachLogs(ctx context.Context, db Querier, ds []Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	ids := make([]int64, len(ds))
	at := map[int64]int{}
	for i, d := range ds {
		ids[i] = d.ID
		at[d.ID] = i
		ds[i].Log = []Attempt{}
	}
	rows, err := db.Query(ctx, `SELECT delivery_id, at, status_code, error, duration_ms FROM webhook_attempts
		WHERE delivery_id = ANY($1) ORDER BY delivery_id, id`, ids)
	if err != nil {
		return fmt.Errorf("webhook delivery log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var a Attempt
		if err := rows.Scan(&id, &a.At, &a.StatusCode, &a.Error, &a.DurationMS); err != nil {
			return fmt.Errorf("webhook delivery log: %w", err)
		}
		ds[at[id]].Log = append(ds[at[id]].Log, a)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("webhook delivery log: %w", err)
	}
	return nil
}

// endpointKind is the merchant_webhooks kind a delivery wd goes to: its
// deposit event's kind (a reorg's unconfirmed goes with confirmations), or
// withdrawal.
const endpointKind = `coalesce((SELECT CASE e.kind WHEN 'unconfirmed' THEN 'confirmations' ELSE e.kind END
	FROM deposit_events e WHERE e.id = wd.event_id), 'withdrawal')`

// Redeliver sends a delivery of the merchant's again, now, whatever its
// state (delivered, failed or pending), with a fresh retry window. It goes
// to the endpoint configured now (the merchant may have fixed it), still
// after any earlier pending event of its deposit. A delivery of another
// merchant is ErrNotFound, as is one that does not exist.
func Redeliver(ctx context.Context, db Querier, merchantID, deliveryID int64) (Delivery, error) {
	tag, err := db.Exec(ctx, `UPDATE webhook_deliveries wd SET state = 'pending', next_at = now(), attempts = 0,
			method = coalesce(CASE WHEN wd.flavour <> 'litepay' THEN (
				SELECT mw.method FROM merchant_webhooks mw WHERE mw.merchant_id = wd.merchant_id AND mw.kind = `+endpointKind+`) END,
				wd.method),
			url = coalesce(CASE WHEN wd.flavour <> 'litepay' THEN (
				SELECT mw.url FROM merchant_webhooks mw WHERE mw.merchant_id = wd.merchant_id AND mw.kind = `+endpointKind+`)
			ELSE (SELECT nullif(ra.callback_url, '') FROM receive_addresses ra JOIN deposits d ON d.wallet_id = ra.wallet_id
				WHERE d.id = wd.deposit_id) END,
				wd.url)
		WHERE wd.id = $1 AND wd.merchant_id = $2`, deliveryID, merchantID)
	if err != nil {
		return Delivery{}, fmt.Errorf("webhook redeliver %d: %w", deliveryID, err)
	}
	if tag.RowsAffected() == 0 {
		return Delivery{}, fmt.Errorf("%w: %d", ErrNotFound, deliveryID)
	}
	d, err := scanDelivery(db.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM `+deliveryFrom+` WHERE wd.id = $1`, deliveryID))
	if err != nil {
		return Delivery{}, fmt.Errorf("webhook redeliver %d: %w", deliveryID, err)
	}
	ds := []Delivery{d}
	if err := attachLogs(ctx, db, ds); err != nil {
		return Delivery{}, err
	}
	return ds[0], nil
}

// RedeliverSelection names the deliveries an operator sends again: these
// deliveries, the deliveries of these events, and (with State) every
// delivery in that state; MerchantID, when not 0, narrows all of them to one
// merchant. A State across every merchant needs AllMerchants.
type RedeliverSelection struct {
	DeliveryIDs  []int64
	EventIDs     []int64
	MerchantID   int64
	State        string // pending, delivered or failed
	AllMerchants bool
}

// Beginner starts a transaction (a pool or a connection).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// RedeliverSelected is Redeliver for the operator: each selected delivery
// is sent again exactly as the merchant's own redelivery would, all in one
// transaction. A delivery or event that is not found (or not the merchant's)
// is ErrNotFound and nothing changes.
func RedeliverSelected(ctx context.Context, db Beginner, sel RedeliverSelection) ([]MerchantDelivery, error) {
	switch sel.State {
	case "", "pending", "delivered", "failed":
	default:
		return nil, fmt.Errorf("%w: state %q is not pending, delivered or failed", ErrBadFilter, sel.State)
	}
	if sel.State != "" && sel.MerchantID == 0 && !sel.AllMerchants {
		return nil, fmt.Errorf("%w: redelivering every %s delivery of every merchant needs the merchant or all merchants named", ErrBadFilter, sel.State)
	}
	if sel.State == "" && len(sel.DeliveryIDs) == 0 && len(sel.EventIDs) == 0 {
		return nil, fmt.Errorf("%w: no delivery, event or state given", ErrBadFilter)
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("webhook redeliver: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	// Every selected row is locked first, in id order, so that a concurrent
	// selection cannot deadlock with this one.
	rows, err := tx.Query(ctx, `SELECT id, merchant_id, coalesce(event_id, withdrawal_event_id) FROM webhook_deliveries
		WHERE ($1::bigint = 0 OR merchant_id = $1)
			AND (id = ANY($2) OR coalesce(event_id, withdrawal_event_id) = ANY($3) OR ($4 <> '' AND state = $4))
		ORDER BY id FOR UPDATE`, sel.MerchantID, sel.DeliveryIDs, sel.EventIDs, sel.State)
	if err != nil {
		return nil, fmt.Errorf("webhook redeliver: %w", err)
	}
	type target struct{ id, merchant int64 }
	var targets []target
	found := map[int64]bool{}
	events := map[int64]bool{}
	for rows.Next() {
		var t target
		var event int64
		if err := rows.Scan(&t.id, &t.merchant, &event); err != nil {
			rows.Close()
			return nil, fmt.Errorf("webhook redeliver: %w", err)
		}
		targets = append(targets, t)
		found[t.id], events[event] = true, true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webhook redeliver: %w", err)
	}
	of := ""
	if sel.MerchantID != 0 {
		of = fmt.Sprintf(" of merchant %d", sel.MerchantID)
	}
	for _, id := range sel.DeliveryIDs {
		if !found[id] {
			return nil, fmt.Errorf("%w: %d%s", ErrNotFound, id, of)
		}
	}
	for _, id := range sel.EventIDs {
		if !events[id] {
			return nil, fmt.Errorf("%w for event %d%s", ErrNotFound, id, of)
		}
	}
	out := make([]MerchantDelivery, 0, len(targets))
	for _, t := range targets {
		d, err := Redeliver(ctx, tx, t.merchant, t.id)
		if err != nil {
			return nil, err
		}
		out = append(out, MerchantDelivery{MerchantID: t.merchant, Delivery: d})
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("webhook redeliver: %w", err)
	}
	return out, nil
}
