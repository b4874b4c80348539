package payments

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	chainreg "github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/config"
	"github.com/sluicepay/sluice/indexer"
	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/stores"
)

// watched are the chain's wallets the watch set holds: expired receive
// addresses leave it (ExpiredAddresses lists them for the reconciler).
const watched = `FROM wallets w WHERE chain = $1
	AND NOT EXISTS (SELECT 1 FROM receive_addresses ra WHERE ra.wallet_id = w.id AND ra.expired_at IS NOT NULL)`

// Addresses lists the chain's wallet addresses the watch set must hold.
func (l *Ledger) Addresses(ctx context.Context, chain string) ([]string, error) {
	return l.addresses(ctx, "SELECT address "+watched+" ORDER BY id", chain)
}

// CountAddresses counts what Addresses lists.
func (l *Ledger) CountAddresses(ctx context.Context, chain string) (int64, error) {
	var n int64
	if err := l.DB.QueryRow(ctx, "SELECT count(*) "+watched, chain).Scan(&n); err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	return n, nil
}

// ExpiredAddresses lists the chain's expired receive addresses: out of the
// watch set, still scanned by the reconciler for late payments.
func (l *Ledger) ExpiredAddresses(ctx context.Context, chain string) ([]string, error) {
	return l.addresses(ctx, `SELECT w.address FROM wallets w JOIN receive_addresses ra ON ra.wallet_id = w.id
		WHERE w.chain = $1 AND ra.expired_at IS NOT NULL ORDER BY w.id`, chain)
}

// allAddresses lists every wallet of the chain, expired ones too.
func (l *Ledger) allAddresses(ctx context.Context, chain string) ([]string, error) {
	return l.addresses(ctx, "SELECT address FROM wallets WHERE chain = $1 ORDER BY id", chain)
}

func (l *Ledger) addresses(ctx context.Context, sql, chain string) ([]string, error) {
	rows, err := l.DB.Query(ctx, sql, chain)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// WatchSet is the part of watch.Set the start-up check needs.
type WatchSet interface {
	Verify(ctx context.Context, want iter.Seq[string]) (missing, extra int, err error)
	Rebuild(ctx context.Context, addrs iter.Seq[string]) error
}

// SyncWatch compares the chain's watch set with the ledger's wallets and
// rebuilds it when they differ (Redis lost, flushed or restored from an old
// snapshot). It returns how many addresses were missing.
func (l *Ledger) SyncWatch(ctx context.Context, chain string, ws WatchSet) (int, error) {
	addrs, err := l.Addresses(ctx, chain)
	if err != nil {
		return 0, err
	}
	missing, extra, err := ws.Verify(ctx, seq(addrs))
	if err != nil {
		return 0, err
	}
	if missing == 0 && extra == 0 {
		return 0, nil
	}
	if err := l.RebuildWatch(ctx, chain, ws); err != nil {
		return missing, err
	}
	return missing, nil
}

// RebuildWatch rebuilds the chain's watch set from the ledger's wallets,
// listed only once the rebuild has begun: a wallet committed after the
// listing is added by its creator after the begin, and such Adds go to the
// rebuild's keys too, so none is lost.
func (l *Ledger) RebuildWatch(ctx context.Context, chain string, ws WatchSet) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	err := ws.Rebuild(ctx, func(yield func(string) bool) {
		addrs, err := l.Addresses(ctx, chain)
		if err != nil {
			cancel(err) // the rebuild then commits nothing
			return
		}
		for _, a := range addrs {
			if !yield(a) {
				return
			}
		}
	})
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	if err != nil {
		return fmt.Errorf("rebuild the %s watch set: %w", chain, err)
	}
	return nil
}

func seq(s []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, v := range s {
			if !yield(v) {
				return
			}
		}
	}
}

// creditAt is a credit with the block it is in.
type creditAt struct {
	indexer.Credit
	height int64
	hash   string
}

// Reconcile finds in the chain index every payment to a ledger wallet from
// height on, creates the deposits the fast path (watch set → block event)
// missed, and brings confirmations to the index's tip. tokens maps token
// contracts to their symbols (Ethereum). It returns the deposits created.
func Reconcile(ctx context.Context, c *Consumer, ch *stores.ClickHouse, tokens map[string]string, from int64) (int, error) {
	addrs, err := c.Ledger.allAddresses(ctx, c.Chain)
	if err != nil {
		return 0, err
	}
	return ReconcileAddresses(ctx, c, ch, tokens, from, addrs)
}

// ReconcileAddresses is Reconcile for the wallets at addrs only (the
// expired receive addresses, scanned more often than all wallets).
func ReconcileAddresses(ctx context.Context, c *Consumer, ch *stores.ClickHouse, tokens map[string]string, from int64, addrs []string) (int, error) {
	if len(addrs) == 0 {
		return 0, nil
	}
	if chainreg.FamilyOf(c.Chain) == chainreg.EVM {
		for i := range addrs {
			addrs[i] = strings.ToLower(addrs[i])
		}
	}
	var found []creditAt
	for start := 0; start < len(addrs); start += 5000 {
		chunk := addrs[start:min(start+5000, len(addrs))]
		cs, err := indexCredits(ctx, ch, c.Chain, c.Ledger.Chains.NativeOf(c.Chain), chunk, tokens, from)
		if err != nil {
			return 0, err
		}
		found = append(found, cs...)
	}
	tip, err := store.Tip(ctx, ch, c.Chain)
	if err != nil || tip < 0 {
		return 0, err
	}

	tx, err := c.Ledger.DB.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	var before int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM deposits WHERE chain = $1", c.Chain).Scan(&before); err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	for _, f := range found {
		if err := c.credit(ctx, tx, f.Credit, f.height, f.hash); err != nil {
			return 0, err
		}
	}
	if err := c.confirm(ctx, tx, tip); err != nil {
		return 0, err
	}
	var after int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM deposits WHERE chain = $1", c.Chain).Scan(&after); err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	return after - before, nil
}

// indexCredits reads the canonical payments to addrs from the chain index;
// native is the code of the chain's coin.
func indexCredits(ctx context.Context, ch *stores.ClickHouse, chain, native string, addrs []string, tokens map[string]string, from int64) ([]creditAt, error) {
	type query struct {
		sql      string
		currency func(token string) string
	}
	var qs []query
	if !config.IsCurrencyCode(native) { // it goes into the SQL text below
		return nil, fmt.Errorf("reconcile %s: the chain's coin %q is not a currency code", chain, native)
	}
	if chainreg.FamilyOf(chain) == chainreg.EVM {
		qs = []query{
			{`SELECT to_address, '` + native + `', hash, 'tx', value, from_address, block_height, block_hash FROM eth_transactions
				WHERE status = 1 AND value != '0' AND to_address IN (%s) AND block_height >= ? AND `, nil},
			{`SELECT to_address, token, tx_hash, concat('log:', toString(log_index)), value, from_address, block_height, block_hash
				FROM token_transfers WHERE to_address IN (%s) AND block_height >= ? AND `, func(t string) string { return tokens[t] }},
			{`SELECT to_address, '` + native + `', tx_hash, concat('trace:', trace_address), value, from_address, block_height, block_hash
				FROM internal_transfers WHERE to_address IN (%s) AND block_height >= ? AND `, nil},
		}
	} else {
		qs = []query{{`SELECT address, '` + native + `', txid, concat('vout:', toString(n)), toString(value), '', block_height, block_hash
			FROM address_outputs WHERE address IN (%s) AND block_height >= ? AND `, nil}}
	}
	// An IN list of literals lets ClickHouse use the address-ordered keys;
	// addresses are letters and digits only, checked here, so quoting is safe.
	quoted := make([]string, 0, len(addrs))
	for _, a := range addrs {
		for _, r := range a {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return nil, fmt.Errorf("wallet address %q has characters no address has", a)
			}
		}
		quoted = append(quoted, "'"+a+"'")
	}
	list := strings.Join(quoted, ",")
	var out []creditAt
	for _, q := range qs {
		rows, err := ch.Query(ctx, fmt.Sprintf(q.sql, list)+store.CanonicalFilter, uint64(max(from, 0)), chain, chain, chain)
		if err != nil {
			return nil, fmt.Errorf("reconcile %s: %w", chain, err)
		}
		for rows.Next() {
			var f creditAt
			var h uint64
			if err := rows.Scan(&f.Address, &f.Currency, &f.TxID, &f.Position, &f.Amount, &f.From, &h, &f.hash); err != nil {
				rows.Close()
				return nil, err
			}
			f.height = int64(h)
			if q.currency != nil {
				if f.Currency = q.currency(f.Currency); f.Currency == "" {
					continue // a token sluice does not take
				}
			}
			out = append(out, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	for i := range out {
		if err := conflictKeys(ctx, ch, chain, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// conflictKeys fills what a double spend or replacement of the credit's
// transaction would collide with (and, Bitcoin family, the payer) from the
// index, as the indexer does for the fast path.
func conflictKeys(ctx context.Context, ch *stores.ClickHouse, chain string, f *creditAt) error {
	if chainreg.FamilyOf(chain) == chainreg.EVM {
		var sender string
		var nonce uint64
		err := ch.QueryRow(ctx, "SELECT from_address, nonce FROM eth_transactions WHERE chain = ? AND hash = ? AND block_hash = ? LIMIT 1",
			chain, f.TxID, f.hash).Scan(&sender, &nonce)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("transaction %s: %w", f.TxID, err)
		}
		f.Sender, f.Nonce = sender, &nonce
		return nil
	}
	spends, err := store.TxInputs(ctx, ch, chain, f.TxID, f.height)
	if err != nil || len(spends) == 0 {
		return err
	}
	f.Spends = spends
	prev, n, _ := strings.Cut(spends[0], ":")
	vout, _ := strconv.ParseUint(n, 10, 32)
	f.From, err = store.OutputAddress(ctx, ch, chain, prev, uint32(vout))
	return err
}

// ExpireReceive marks the chain's receive addresses idle for after (no
// payment since, and made before) as expired, and returns how many.
func (l *Ledger) ExpireReceive(ctx context.Context, chain string, after time.Duration) (int64, error) {
	tag, err := l.DB.Exec(ctx, `UPDATE receive_addresses ra SET expired_at = now() FROM wallets w
		WHERE ra.wallet_id = w.id AND w.chain = $1 AND ra.expired_at IS NULL
			AND w.created_at < now() - $2 * interval '1 millisecond'
			AND NOT EXISTS (SELECT 1 FROM deposits d WHERE d.wallet_id = w.id AND d.created_at >= now() - $2 * interval '1 millisecond')`,
		chain, after.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	return tag.RowsAffected(), nil
}
