package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/sluicepay/sluice/payments"
)

// LitepayMaxConfirmations: a litepay callback is resent at every new block
// until acknowledged, up to this many confirmations, then given up.
const LitepayMaxConfirmations = 100

// errDonation is the last_error of a litepay callback not sent because the
// payment is a donation (under the 1 USD minimum: kept, not forwarded).
const errDonation = "not sent: a donation (under the 1 USD minimum), kept and not forwarded; litepay calls back only for forwarded payments"

// litepayAck is what a litepay receiver answers to acknowledge a callback.
const litepayAck = "*ok*"

// job is a claimed delivery.
type job struct {
	// EventID is the deposit event's id, or the withdrawal event's (one
	// sequence for both); DepositID or WithdrawalID is 0 for the other kind.
	ID, EventID, DepositID, WithdrawalID, MerchantID int64
	Flavour, Method, URL                             string
	Attempts                                         int
	CreatedAt                                        time.Time
	// Lease is next_at as the claim set it: the worker owns the row only
	// while it is unchanged (a redelivery or a takeover changes it).
	Lease time.Time
	// ClaimedAt is the database's clock at the claim, the attempt's time.
	ClaimedAt time.Time
}

// outcome is what one attempt came to.
type outcome struct {
	sent    bool          // a request went out (or was refused at connect)
	status  *int          // the HTTP status, when a response came
	err     string        // why it is not acknowledged, for the delivery log
	dur     time.Duration // of the request
	acked   bool
	refused bool // the address is not public and not allowed
	final   bool // give up now (litepay: past 100 confirmations, or the deposit failed)
	wait    bool // litepay: try again at the next block
}

// claim takes the next due delivery: due, no earlier event of its deposit
// still on its way, and its merchant below this process's per-merchant cap
// (so one slow endpoint cannot hold every worker). The claim is a lease:
// next_at moves past the time a send can take and commits at once, so the
// request goes out with no transaction open, and a worker killed mid-send
// leaves a row that falls due again when the lease runs out.
func (r *runner) claim(ctx context.Context) (*job, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	busy := []int64{}
	for m, n := range r.inflight {
		if n >= r.perMerchant {
			busy = append(busy, m)
		}
	}
	var j job
	err := r.db.QueryRow(ctx, `WITH c AS (
			SELECT wd.id FROM webhook_deliveries wd
			WHERE `+eligible+` AND wd.merchant_id <> ALL($1)
			ORDER BY wd.next_at, wd.id LIMIT 1
			FOR UPDATE OF wd SKIP LOCKED)
		UPDATE webhook_deliveries d SET next_at = now() + $2 * interval '1 millisecond' FROM c WHERE d.id = c.id
		RETURNING d.id, coalesce(d.event_id, d.withdrawal_event_id), coalesce(d.deposit_id, 0), coalesce(d.withdrawal_id, 0),
			d.merchant_id, d.flavour, d.method, d.url, d.attempts, d.created_at, d.next_at, now()`,
		busy, r.lease.Milliseconds()).Scan(&j.ID, &j.EventID, &j.DepositID, &j.WithdrawalID, &j.MerchantID, &j.Flavour, &j.Method, &j.URL,
		&j.Attempts, &j.CreatedAt, &j.Lease, &j.ClaimedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("webhook claim: %w", err)
	}
	r.inflight[j.MerchantID]++
	return &j, nil
}

func (r *runner) done(j *job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight[j.MerchantID]--; r.inflight[j.MerchantID] <= 0 {
		delete(r.inflight, j.MerchantID)
	}
}

// load reads what the delivery of an event says, as the ledger has it now.
func (r *runner) load(ctx context.Context, eventID int64) (event, error) {
	var ev event
	var stored storedSecrets
	err := r.db.QueryRow(ctx, `SELECT e.id, e.deposit_id, e.kind, e.status, e.confirmations, e.created_at,
			w.address, w.ext_id, d.from_address, d.txid, d.position, d.currency, d.chain, d.amount::text,
			d.status, d.block_height, c.height, d.confirmations, m.convert_currency,
			coalesce(mc.confirmations, 0), coalesce(ra.destination, ''), d.donation, coalesce(s.state, ''),
			`+secretColumns+`
		FROM deposit_events e JOIN deposits d ON d.id = e.deposit_id JOIN wallets w ON w.id = d.wallet_id
		LEFT JOIN sweeps s ON s.id = d.sweep_id
		JOIN merchants m ON m.id = w.merchant_id
		LEFT JOIN merchant_confirmations mc ON mc.merchant_id = w.merchant_id AND mc.currency = w.currency
		LEFT JOIN receive_addresses ra ON ra.wallet_id = w.id
		LEFT JOIN chain_checkpoints c ON c.chain = d.chain
		WHERE e.id = $1`, eventID).Scan(&ev.ID, &ev.DepositID, &ev.Kind, &ev.Status, &ev.Confirmations, &ev.At,
		&ev.Address, &ev.ExtID, &ev.From, &ev.TxID, &ev.Position, &ev.Currency, &ev.Chain, &ev.Units,
		&ev.DepositStatus, &ev.BlockHeight, &ev.Tip, &ev.DepositConfirmations, &ev.Convert,
		&ev.Required, &ev.Destination, &ev.Donation, &ev.SweepState,
		&stored.merchantID, &stored.current, &stored.previous)
	if err != nil {
		return event{}, fmt.Errorf("webhook: read event %d: %w", eventID, err)
	}
	if ev.Secret, err = stored.open(r.secrets); err != nil {
		return event{}, fmt.Errorf("webhook: event %d: %w", eventID, err)
	}
	if ev.Required == 0 {
		if ev.Required, err = payments.DefaultConfirmations(r.chains, ev.Currency); err != nil {
			return event{}, fmt.Errorf("webhook: event %d: %w", eventID, err)
		}
	}
	return ev, nil
}

// deliver sends one claimed delivery and records the outcome.
func (r *runner) deliver(ctx context.Context, j *job) {
	defer r.done(j)
	log := r.log.With("delivery", j.ID, "event", j.EventID, "flavour", j.Flavour, "merchant", j.MerchantID)
	var o outcome
	var err error
	if j.Flavour == FlavourWithdrawal {
		var we withdrawalEvent
		if we, err = r.loadWithdrawal(ctx, j.EventID); err == nil {
			o = r.withdrawal(ctx, j, we)
		}
	} else {
		var ev event
		if ev, err = r.load(ctx, j.EventID); err == nil && j.Flavour == FlavourLitepay {
			o = r.litepay(ctx, j, ev)
		} else if err == nil {
			o = r.iqpay(ctx, j, ev)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			r.release(j)
			return
		}
		log.Warn("webhook delivery postponed: reading its event failed", "err", err)
		return // the lease runs out and the delivery falls due again
	}
	if ctx.Err() != nil && !o.acked {
		// Shutting down mid-request: not an attempt of the receiver's. Hand
		// the delivery back at once rather than when the lease runs out.
		r.release(j)
		return
	}
	// The outcome is recorded even while shutting down: a receiver that
	// acknowledged must not be sent the event again for want of a commit.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	result, err := r.record(rctx, j, o)
	if err != nil {
		log.Warn("recording a webhook attempt failed; it will be sent again", "err", err)
		return
	}
	if r.m != nil && o.sent {
		r.m.Duration.WithLabelValues(j.Flavour).Observe(o.dur.Seconds())
	}
	if result == "" {
		return
	}
	if r.m != nil && (o.sent || result == ResultFailed) {
		label := result
		if o.refused && result == ResultRetry {
			label = ResultRefused
		}
		r.m.delivered(j.Flavour, j.MerchantID, label)
	}
	switch result {
	case ResultDelivered:
		log.Debug("webhook delivered", "attempt", j.Attempts+1)
	case ResultFailed:
		log.Warn("webhook given up", "attempts", j.Attempts+1, "err", o.err)
	default:
		log.Info("webhook not acknowledged; will retry", "attempt", j.Attempts+1, "err", o.err)
	}
}

// iqpay sends the event as the merchant's endpoint for its kind wants it.
// Only HTTP 200 acknowledges.
func (r *runner) iqpay(ctx context.Context, j *job, ev event) outcome {
	price, converted := "0", "0"
	if ev.Convert != "" && r.convert != nil {
		units, _ := new(big.Int).SetString(ev.Units, 10)
		p, c, err := r.convert.Convert(ctx, ev.DepositID, ev.Currency, ev.Convert, units)
		if err != nil {
			r.log.Warn("fiat conversion failed; sending 0", "event", ev.ID, "err", err)
		} else {
			price, converted = p, c
		}
	}
	p, err := payload(ev, r.chains, price, converted)
	if err != nil {
		return outcome{err: err.Error()}
	}
	req, err := iqpayRequest(FlavourIqpay, ev.Kind, j.Method, j.URL, p, p.params())
	if err != nil {
		return notSent(err)
	}
	return r.sendIqpay(ctx, j, ev.Secret, req)
}

// notSent is the outcome of a request that could not be made. A URL that
// shadows sluice's own parameters (stored before they were refused at
// registration) is given up at once, with the reason in the delivery log.
func notSent(err error) outcome {
	if errors.Is(err, ErrShadowedParam) {
		return outcome{err: "not sent: " + err.Error(), final: true}
	}
	return outcome{err: err.Error()}
}

// sendIqpay sends an iqpay-flavour request: only HTTP 200 acknowledges.
func (r *runner) sendIqpay(ctx context.Context, j *job, secret signingSecrets, req request) outcome {
	o, body := r.send(ctx, j, secret, req)
	if o.status != nil {
		if *o.status == http.StatusOK {
			o.acked = true
		} else {
			o.err = fmt.Sprintf("HTTP %d, not 200%s", *o.status, excerpt(body))
		}
	}
	return o
}

// litepay sends the deposit's callback with its confirmations now; the
// body *ok* (with a 2xx status) acknowledges. Unacknowledged, it waits for
// the next block, up to LitepayMaxConfirmations. It is not sent while the
// deposit's transaction is out of the chain (a reorg), and a failed deposit
// ends it.
func (r *runner) litepay(ctx context.Context, j *job, ev event) outcome {
	if ev.DepositStatus == 2 {
		return outcome{err: errDepositFailed, final: true}
	}
	if ev.BlockHeight == nil {
		return outcome{err: "not sent: the transaction is out of the chain after a reorg; waiting for it to be mined again", wait: true}
	}
	confs := ev.DepositConfirmations
	if ev.Tip != nil {
		confs = max(confs, int(*ev.Tip-*ev.BlockHeight+1))
	}
	if confs > LitepayMaxConfirmations {
		return outcome{err: fmt.Sprintf("not sent: past %d confirmations without *ok*", LitepayMaxConfirmations), final: true}
	}
	req, err := litepayRequest(j.URL, ev, confs)
	if err != nil {
		o := notSent(err)
		o.wait = !o.final
		return o
	}
	// litepay: "each time a payment is forwarded the callback URL will be
	// called"; a payment under the minimum is a donation, never forwarded
	if ev.Donation {
		return outcome{err: errDonation, final: true}
	}
	if ev.SweepState != "broadcast" && ev.SweepState != "confirmed" {
		return outcome{err: "not sent yet: the payment is not forwarded yet (litepay calls back once it is)", wait: true}
	}
	o, body := r.send(ctx, j, ev.Secret, req)
	switch {
	case o.status == nil:
	case *o.status >= 200 && *o.status < 300 && bytes.Contains(body, []byte(litepayAck)):
		o.acked = true
	default:
		o.err = fmt.Sprintf("HTTP %d without *ok*%s", *o.status, excerpt(body))
	}
	if !o.acked {
		o.wait = true
		o.final = confs >= LitepayMaxConfirmations
	}
	return o
}

// maxBody is how much of a response is read (litepay looks for *ok* in it).
const maxBody = 64 << 10

// send makes one signed request. The outcome has the status when a
// response came, or the transport error.
func (r *runner) send(ctx context.Context, j *job, secret signingSecrets, req request) (outcome, []byte) {
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return outcome{err: fmt.Sprintf("webhook URL: %v", errText(err))}, nil
	}
	ts := time.Now().Unix()
	sig, err := secret.sign(ts, Purpose{Flavour: j.Flavour, Kind: req.Kind, EventID: j.EventID, Method: req.Method, URL: req.URL}, req.Signed)
	if err != nil {
		return outcome{err: err.Error()}, nil
	}
	hr.Header.Set(HeaderEventID, strconv.FormatInt(j.EventID, 10))
	hr.Header.Set(HeaderDeliveryID, strconv.FormatInt(j.ID, 10))
	hr.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	hr.Header.Set(HeaderFlavour, j.Flavour)
	hr.Header.Set(HeaderEventKind, req.Kind)
	hr.Header.Set(HeaderSignature, sig)
	hr.Header.Set("User-Agent", "sluice-webhooks/1")
	if req.Body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := r.client.Do(hr)
	o := outcome{sent: true}
	if err != nil {
		o.dur = time.Since(start)
		o.err = errText(err)
		o.refused = errors.Is(err, ErrPrivateTarget)
		if !o.refused && (errors.Is(err, context.DeadlineExceeded) || isTimeout(err)) {
			o.err = fmt.Sprintf("no response within %s", r.timeout)
		}
		return o, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // so the connection can be reused
	o.dur = time.Since(start)
	status := resp.StatusCode
	o.status = &status
	return o, data
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// errText is a transport error without the URL, whose query may hold the
// merchant's secret parameter: the delivery log and our logs keep the cause.
func errText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// excerpt quotes the start of a response body for the delivery log.
func excerpt(body []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(body), "?"))
	if s == "" {
		return ""
	}
	if len(s) > 200 {
		s = s[:200]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return ": " + strconv.Quote(s)
}

// record logs the attempt and moves the delivery on, in one transaction,
// and returns the result label ("" when the delivery changed hands meanwhile).
func (r *runner) record(ctx context.Context, j *job, o outcome) (string, error) {
	tx, err := r.db.Begin(ctx)
	if err != nil {
		return "", fmt.Errorf("webhook record: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	var status any
	if o.status != nil {
		status = *o.status
	}
	errMsg := o.err
	if o.acked {
		errMsg = ""
	}
	if _, err := tx.Exec(ctx, `INSERT INTO webhook_attempts (delivery_id, at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5)`,
		j.ID, j.ClaimedAt, status, errMsg, o.dur.Milliseconds()); err != nil {
		return "", fmt.Errorf("webhook record: %w", err)
	}
	if j.Flavour == FlavourLitepay && o.sent && !o.refused {
		blocked, err := noteDomain(ctx, tx, j.URL, o.acked, errMsg, r.blockAfter)
		if err != nil {
			return "", fmt.Errorf("webhook record: %w", err)
		}
		if blocked {
			d, _ := CallbackDomain(j.URL)
			r.log.Warn("litepay callback domain blocked: its callbacks failed without an *ok* for too long",
				"domain", d, "after", r.blockAfter, "err", errMsg)
		}
	}
	// Every attempt row counts in attempts (a redelivery resets it to 0):
	// the window of max_age starts at the first attempt after a redelivery.
	var attempts int
	var owned bool
	if err := tx.QueryRow(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1,
			last_status = CASE WHEN $2 THEN $3::int ELSE last_status END, last_error = $4
		WHERE id = $1 RETURNING attempts, state = 'pending' AND next_at = $5`,
		j.ID, o.sent, status, errMsg, j.Lease).Scan(&attempts, &owned); err != nil {
		return "", fmt.Errorf("webhook record: %w", err)
	}
	result := ""
	switch {
	case o.acked:
		// whatever happened meanwhile, the receiver has it now
		_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET state = 'delivered', delivered_at = now(), next_at = now() WHERE id = $1`, j.ID)
		result = ResultDelivered
	case !owned:
		// redelivered or taken over while this attempt ran: leave it to that
	case o.final:
		_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET state = 'failed' WHERE id = $1`, j.ID)
		result = ResultFailed
	case o.wait:
		// until the chain's next block; one found while this attempt ran counts
		_, err = tx.Exec(ctx, `UPDATE webhook_deliveries wd SET next_at = CASE WHEN EXISTS (
				SELECT 1 FROM deposits d JOIN chain_checkpoints c ON c.chain = d.chain
				WHERE d.id = wd.deposit_id AND c.updated_at > $2) THEN now() ELSE 'infinity' END
			WHERE id = $1`, j.ID, j.ClaimedAt)
		result = ResultRetry
	default:
		var start, now time.Time
		err = tx.QueryRow(ctx, `SELECT CASE WHEN (SELECT count(*) FROM webhook_attempts WHERE delivery_id = $1) > $2
				THEN (SELECT at FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id DESC OFFSET $2::int - 1 LIMIT 1)
				ELSE $3::timestamptz END, now()`, j.ID, attempts, j.CreatedAt).Scan(&start, &now)
		if err != nil {
			break
		}
		if now.Sub(start) >= r.maxAge {
			_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET state = 'failed', last_error = $2 WHERE id = $1`,
				j.ID, fmt.Sprintf("given up after %s: %s", r.maxAge, o.err))
			result = ResultFailed
			break
		}
		// the last try falls on the deadline itself
		next := now.Add(backoff(attempts, r.backoffBase, r.backoffMax))
		if deadline := start.Add(r.maxAge); next.After(deadline) {
			next = deadline
		}
		_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET next_at = $2 WHERE id = $1`, j.ID, next)
		result = ResultRetry
	}
	if err != nil {
		return "", fmt.Errorf("webhook record: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("webhook record: %w", err)
	}
	return result, nil
}

// release hands a claimed delivery back (shutdown) without an attempt.
func (r *runner) release(j *job) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = r.db.Exec(ctx, `UPDATE webhook_deliveries SET next_at = now() WHERE id = $1 AND state = 'pending' AND next_at = $2`, j.ID, j.Lease)
}

// backoff is the wait after the n-th failed attempt: base doubling per
// attempt up to max, with "equal jitter" (a random point in its upper
// half) so receivers coming back are not hit by every retry at once.
func backoff(n int, base, ceiling time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	return d/2 + rand.N(d/2+1)
}
