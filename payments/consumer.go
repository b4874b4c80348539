package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/indexer"
)

// DefaultConfirmations is what a deposit of currency needs unless its
// merchant set its own (the registry's, chain.Currency.Confirmations; a nil
// registry knows the built-ins). A currency without one is an error, never
// 0: a deposit must not confirm in the block it was seen in for want of a
// number.
func DefaultConfirmations(reg *chain.Registry, currency string) (int, error) {
	if c, ok := reg.Lookup(currency); ok && c.Confirmations > 0 {
		return c.Confirmations, nil
	}
	return 0, fmt.Errorf("no default confirmations known for %q", currency)
}

// FailAfter is how many blocks a deposit whose block a reorg removed may wait
// for its transaction to be mined again before it counts as gone for good
// (double-spent or replaced): status 2, event "failed". Should it be mined
// later after all, the deposit comes back to life, announced at once by a
// "confirmations" event at 1 confirmation.
const FailAfter = 100

// consumerGroup is the Redis consumer group of the payments workers.
const consumerGroup = "payments"

// ClaimIdle is how long an entry read by another worker stays unacknowledged
// before this worker takes it over (that worker is presumed dead).
const ClaimIdle = time.Minute

// Consumer turns a chain's block events into deposits: a credit creates its
// deposit, each new block moves confirmations, a disconnected block returns
// its deposits to unconfirmed. Every state change writes its outbox event in
// the same Postgres transaction, and the stream entry is acknowledged only
// after that commit: a crash anywhere replays the entry, and the natural
// keys make the replay change nothing.
type Consumer struct {
	Ledger  *Ledger
	Redis   *redis.Client
	Chain   string
	Name    string // this worker in the consumer group; keep it stable across restarts (the host name)
	Log     *slog.Logger
	Metrics *Metrics // may be nil
	// Conflicts, when set, fails an orphaned deposit as soon as a conflicting
	// transaction (double spend, replacement) is buried as deep as the
	// deposit needed to be; without it only the FailAfter timeout applies.
	Conflicts ConflictFinder
	// ReceiveConfirmations confirm (and so forward) a payment to a litepay
	// receive address, whatever its merchant's iqpay confirmations
	// (config receive.confirmations; 0 means 1, as litepay's spec).
	ReceiveConfirmations int
}

// Run consumes until ctx ends: first what this worker read but never
// acknowledged (a crash), then new entries.
func (c *Consumer) Run(ctx context.Context) error {
	stream := indexer.StreamKey(c.Chain)
	if err := c.Redis.XGroupCreateMkStream(ctx, stream, consumerGroup, "0").Err(); err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("redis: create consumer group on %s: %w", stream, err)
	}
	start := "0" // our pending entries first
	backoff := time.Second
	for ctx.Err() == nil {
		res, err := c.Redis.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: consumerGroup, Consumer: c.Name, Streams: []string{stream, start}, Count: 100, Block: 2 * time.Second,
		}).Result()
		if errors.Is(err, redis.Nil) {
			c.observeLag(ctx, stream)
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if strings.Contains(err.Error(), "NOGROUP") {
				// Redis lost the stream and its group (flushed, restored): start
				// over on what is there; `sluice reconcile` covers the gap.
				c.Log.Warn("the block event stream lost its consumer group; recreating it", "stream", stream)
				if err := c.Redis.XGroupCreateMkStream(ctx, stream, consumerGroup, "0").Err(); err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
					c.Log.Warn("recreating the consumer group failed", "err", err)
				}
				start = "0"
				continue
			}
			c.Log.Warn("reading block events failed; retrying", "stream", stream, "err", err, "retry_in", backoff)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = time.Second
		msgs := res[0].Messages
		if start == "0" && len(msgs) == 0 {
			start = ">" // our backlog is done; take over what dead workers left
			claimed, _, err := c.Redis.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: stream, Group: consumerGroup,
				Consumer: c.Name, MinIdle: ClaimIdle, Start: "0", Count: 100}).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				c.Log.Warn("claiming abandoned block events failed", "err", err)
			}
			if len(claimed) > 0 {
				c.Log.Info("took over block events another worker read but never acknowledged", "count", len(claimed))
				start = "0" // they are ours now: read them as our backlog
			}
			continue
		}
		for _, m := range msgs {
			for {
				err := c.apply(ctx, m)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					return nil
				}
				c.Log.Warn("applying a block event failed; retrying", "stream", stream, "id", m.ID, "err", err, "retry_in", backoff)
				c.observeLag(ctx, stream)
				sleep(ctx, backoff)
				backoff = min(2*backoff, 10*time.Second)
			}
			backoff = time.Second
			if c.Metrics != nil {
				kind, _ := m.Values["kind"].(string)
				c.Metrics.Events.WithLabelValues(c.Chain, kind).Inc()
			}
			if err := c.Redis.XAck(ctx, stream, consumerGroup, m.ID).Err(); err != nil {
				c.Log.Warn("ack failed; the entry will be replayed harmlessly", "id", m.ID, "err", err)
			}
		}
		c.observeLag(ctx, stream)
	}
	return nil
}

// observeLag records how many block events wait for the payments workers:
// entries not yet delivered to the group plus those delivered and not yet
// acknowledged. It is read after a batch is acknowledged, on every idle
// read (each 2 s) and while an entry is retried, so it never keeps the
// count of a batch already done.
func (c *Consumer) observeLag(ctx context.Context, stream string) {
	if c.Metrics == nil {
		return
	}
	groups, err := c.Redis.XInfoGroups(ctx, stream).Result()
	if err != nil {
		return
	}
	for _, g := range groups {
		if g.Name == consumerGroup {
			c.Metrics.Lag.WithLabelValues(c.Chain).Set(float64(g.Lag + g.Pending))
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// apply runs one block event in one transaction.
func (c *Consumer) apply(ctx context.Context, m redis.XMessage) error {
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	height, err := strconv.ParseInt(str("height"), 10, 64)
	if err != nil {
		return fmt.Errorf("event %s: bad height %q", m.ID, str("height"))
	}
	var credits []indexer.Credit
	if js := str("credits"); js != "" {
		if err := json.Unmarshal([]byte(js), &credits); err != nil {
			return fmt.Errorf("event %s: bad credits: %w", m.ID, err)
		}
	}
	tx, err := c.Ledger.DB.Begin(ctx)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	switch str("kind") {
	case "connected":
		for _, cr := range credits {
			if err := c.credit(ctx, tx, cr, height, str("hash")); err != nil {
				return err
			}
		}
		if err := c.confirm(ctx, tx, height); err != nil {
			return err
		}
		if err := c.fail(ctx, tx, height); err != nil {
			return err
		}
	case "disconnected":
		if err := c.disconnect(ctx, tx, str("hash"), height); err != nil {
			return err
		}
	default:
		c.Log.Warn("unknown block event ignored", "id", m.ID, "kind", str("kind"))
	}
	return tx.Commit(ctx)
}

// credit records a deposit (once per chain, txid and position) and its created event.
func (c *Consumer) credit(ctx context.Context, tx pgx.Tx, cr indexer.Credit, height int64, hash string) error {
	var walletID int64
	var currency string
	err := tx.QueryRow(ctx, "SELECT id, currency FROM wallets WHERE chain = $1 AND lower(address) = lower($2)",
		c.Chain, cr.Address).Scan(&walletID, &currency)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // a bloom false positive that the exact set let through, or a wallet of another ledger
	}
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if currency != cr.Currency {
		c.Log.Warn("payment in another currency than the wallet's: not credited", "address", cr.Address,
			"wallet_currency", currency, "paid", cr.Currency, "txid", cr.TxID, "amount", cr.Amount)
		return nil
	}
	var id int64
	var inserted, revived bool
	spends := cr.Spends
	if spends == nil {
		spends = []string{}
	}
	// prev is the row before this statement: a deposit that had failed
	// (status 2) and is mined after all is revived here.
	err = tx.QueryRow(ctx, `WITH prev AS (SELECT status FROM deposits WHERE chain = $2 AND txid = $4 AND position = $5)
		INSERT INTO deposits (wallet_id, chain, currency, txid, position, amount, from_address, block_hash, block_height, confirmations,
			spends, sender, nonce)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $12)
		ON CONFLICT (chain, txid, position) DO UPDATE SET block_hash = EXCLUDED.block_hash, block_height = EXCLUDED.block_height,
			orphaned_at = NULL, status = CASE WHEN deposits.status = 2 THEN 0 ELSE deposits.status END, updated_at = now(),
			spends = CASE WHEN cardinality(EXCLUDED.spends) > 0 THEN EXCLUDED.spends ELSE deposits.spends END,
			sender = CASE WHEN EXCLUDED.sender <> '' THEN EXCLUDED.sender ELSE deposits.sender END,
			nonce = coalesce(EXCLUDED.nonce, deposits.nonce)
		RETURNING id, (xmax = 0), coalesce((SELECT status = 2 FROM prev), false)`,
		walletID, c.Chain, currency, cr.TxID, cr.Position, cr.Amount, cr.From, hash, height, spends, cr.Sender, cr.Nonce).Scan(&id, &inserted, &revived)
	if err != nil {
		return fmt.Errorf("ledger: record deposit %s %s: %w", cr.TxID, cr.Position, err)
	}
	if inserted {
		if err := event(ctx, tx, id, "created", 0, 1); err != nil {
			return err
		}
		if c.Metrics != nil {
			c.Metrics.Deposits.WithLabelValues(currency).Inc()
		}
		c.Log.Info("deposit", "chain", c.Chain, "address", cr.Address, "currency", currency, "amount", cr.Amount, "txid", cr.TxID, "position", cr.Position)
	}
	if revived {
		// The merchant was told "failed": say at once that it is alive again
		// (1 confirmation, as a new deposit's created event says), not at the
		// next block. A confirmations event also reopens the litepay callback
		// the failure stopped, where another created event would start a second.
		if err := event(ctx, tx, id, "confirmations", 0, 1); err != nil {
			return err
		}
		c.Log.Info("failed deposit mined after all", "chain", c.Chain, "txid", cr.TxID, "position", cr.Position, "height", height)
	}
	return nil
}

// confirm moves the confirmations of the chain's open deposits to the new tip.
func (c *Consumer) confirm(ctx context.Context, tx pgx.Tx, tip int64) error {
	rows, err := tx.Query(ctx, `UPDATE deposits d SET confirmations = $2 - d.block_height + 1, updated_at = now()
		FROM wallets w LEFT JOIN merchant_confirmations mc ON mc.merchant_id = w.merchant_id AND mc.currency = w.currency
		WHERE d.wallet_id = w.id AND d.chain = $1 AND d.status = 0 AND d.block_height IS NOT NULL AND d.block_height <= $2
		RETURNING d.id, d.confirmations, d.currency, coalesce(mc.confirmations, 0),
			EXISTS (SELECT 1 FROM receive_addresses ra WHERE ra.wallet_id = w.id)`, c.Chain, tip)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	type open struct {
		id            int64
		confs, needed int
	}
	var opens []open
	for rows.Next() {
		var o open
		var currency string
		var receive bool
		if err := rows.Scan(&o.id, &o.confs, &currency, &o.needed, &receive); err != nil {
			rows.Close()
			return err
		}
		switch {
		case receive:
			o.needed = max(c.ReceiveConfirmations, 1)
		case o.needed == 0:
			var err error
			if o.needed, err = DefaultConfirmations(c.Ledger.Chains, currency); err != nil {
				rows.Close()
				return err
			}
		}
		opens = append(opens, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	for _, o := range opens {
		if o.confs > 1 {
			if err := event(ctx, tx, o.id, "confirmations", 0, o.confs); err != nil {
				return err
			}
		}
		if o.confs >= o.needed {
			if _, err := tx.Exec(ctx, "UPDATE deposits SET status = 1, updated_at = now() WHERE id = $1", o.id); err != nil {
				return fmt.Errorf("ledger: %w", err)
			}
			if err := event(ctx, tx, o.id, "confirmed", 1, o.confs); err != nil {
				return err
			}
		}
	}
	return nil
}

// disconnect returns the deposits of a block a reorg removed to unconfirmed.
func (c *Consumer) disconnect(ctx context.Context, tx pgx.Tx, hash string, height int64) error {
	// block_hash = $2 makes a replay change nothing (reorgs counts once).
	rows, err := tx.Query(ctx, `UPDATE deposits SET block_hash = NULL, block_height = NULL, confirmations = 0, status = 0,
			orphaned_at = $3, reorgs = reorgs + 1, updated_at = now()
		WHERE chain = $1 AND block_hash = $2 AND status <> 2 RETURNING id`, c.Chain, hash, height)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if err := event(ctx, tx, id, "unconfirmed", 0, 0); err != nil {
			return err
		}
	}
	return c.unsweep(ctx, tx, ids, hash, height)
}

// unsweep takes back the credit of confirmed sweeps that spent deposits a
// reorg removed: the sweep is followed again (it counts once its
// transaction is in the chain again), and withdrawals of a currency whose
// balance such a sweep funded are paused until an operator resumes them.
func (c *Consumer) unsweep(ctx context.Context, tx pgx.Tx, deposits []int64, hash string, height int64) error {
	if len(deposits) == 0 {
		return nil
	}
	why := fmt.Sprintf("a reorg removed %s block %d (%s), which held deposits of a confirmed hot-wallet sweep", c.Chain, height, hash)
	rows, err := tx.Query(ctx, `WITH s AS (
			UPDATE sweeps SET state = 'broadcast', confirmed_at = NULL, updated_at = now(),
				error = 'a reorg removed deposits it spends; followed again'
			WHERE state = 'confirmed' AND id IN (SELECT sweep_id FROM deposits WHERE id = ANY($1) AND sweep_id IS NOT NULL)
			RETURNING id, kind, currency),
		p AS (INSERT INTO withdrawal_pauses (currency, reason)
			SELECT DISTINCT currency, $2 FROM s WHERE kind = 'hot' `+PauseConflict+` RETURNING currency)
		SELECT s.id, s.kind, s.currency, s.currency IN (SELECT currency FROM p) FROM s`, deposits, why)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var kind, currency string
		var paused bool
		if err := rows.Scan(&id, &kind, &currency, &paused); err != nil {
			return err
		}
		c.Log.Warn("a reorg took back a confirmed sweep's deposits; its credit is reversed", "sweep", id, "kind", kind,
			"currency", currency, "withdrawals_paused", paused, "block", hash, "height", height)
	}
	return rows.Err()
}

// fail gives up on orphaned deposits (their block a reorg removed) whose
// transaction can never come back: a conflicting transaction is buried as
// deep as the deposit needed to be (when c.Conflicts is set), or it has not
// been mined again FailAfter blocks later.
func (c *Consumer) fail(ctx context.Context, tx pgx.Tx, tip int64) error {
	rows, err := tx.Query(ctx, `SELECT d.id, d.txid, d.currency, d.spends, d.sender, d.nonce, $2 - d.orphaned_at >= $3,
			coalesce(mc.confirmations, 0)
		FROM deposits d JOIN wallets w ON w.id = d.wallet_id
		LEFT JOIN merchant_confirmations mc ON mc.merchant_id = w.merchant_id AND mc.currency = w.currency
		WHERE d.chain = $1 AND d.status = 0 AND d.block_height IS NULL AND d.orphaned_at IS NOT NULL
		ORDER BY d.id`, c.Chain, tip, FailAfter)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	type orphan struct {
		Orphan
		id       int64
		currency string
		timedOut bool
		needed   int
	}
	var orphans []orphan
	for rows.Next() {
		var o orphan
		if err := rows.Scan(&o.id, &o.TxID, &o.currency, &o.Spends, &o.Sender, &o.Nonce, &o.timedOut, &o.needed); err != nil {
			rows.Close()
			return err
		}
		if o.needed == 0 {
			var err error
			if o.needed, err = DefaultConfirmations(c.Ledger.Chains, o.currency); err != nil {
				rows.Close()
				return err
			}
		}
		orphans = append(orphans, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	type verdict struct {
		by    string
		found bool
	}
	seen := map[string]verdict{} // one look per transaction and depth
	for _, o := range orphans {
		reason := ""
		if c.Conflicts != nil {
			key := o.TxID + "/" + strconv.Itoa(o.needed)
			v, ok := seen[key]
			if !ok {
				v.by, v.found, err = c.Conflicts.Conflict(ctx, o.Orphan, tip-int64(o.needed)+1)
				if err != nil {
					return err
				}
				seen[key] = v
			}
			if v.found {
				reason = "double-spent or replaced: " + v.by
			}
		}
		if reason == "" && o.timedOut {
			reason = fmt.Sprintf("not mined again %d blocks after a reorg removed it", FailAfter)
		}
		if reason == "" {
			continue
		}
		if _, err := tx.Exec(ctx, "UPDATE deposits SET status = 2, updated_at = now() WHERE id = $1", o.id); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		if err := event(ctx, tx, o.id, "failed", 2, 0); err != nil {
			return err
		}
		c.Log.Warn("deposit failed: its transaction is gone for good", "chain", c.Chain, "txid", o.TxID, "reason", reason)
		if c.Metrics != nil {
			c.Metrics.Failed.WithLabelValues(o.currency).Inc()
		}
	}
	return nil
}

// event writes an outbox event once per (deposit, kind, confirmations,
// generation); the generation is the deposit's reorg count, so the events
// after a reorg are new ones.
func event(ctx context.Context, tx pgx.Tx, deposit int64, kind string, status, confs int) error {
	if _, err := tx.Exec(ctx, `INSERT INTO deposit_events (deposit_id, kind, status, confirmations, generation)
		SELECT $1, $2, $3, $4, reorgs FROM deposits WHERE id = $1
		ON CONFLICT (deposit_id, kind, confirmations, generation) DO NOTHING`, deposit, kind, status, confs); err != nil {
		return fmt.Errorf("ledger: %s event of deposit %d: %w", kind, deposit, err)
	}
	return nil
}

// PauseConflict is the ON CONFLICT clause of every insert into
// withdrawal_pauses: a pause already in place keeps its reasons and gains
// the new one unless one of the same kind (the text before its first
// colon) is there, so the operator sees every cause before resuming and a
// check that repeats each round does not grow the text.
const PauseConflict = `ON CONFLICT (currency) DO UPDATE SET reason = withdrawal_pauses.reason || '; ' || EXCLUDED.reason
	WHERE strpos(withdrawal_pauses.reason, split_part(EXCLUDED.reason, ':', 1)) = 0`
