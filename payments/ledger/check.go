package ledger

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	chainreg "github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/indexer/store"
	"github.com/sluicepay/sluice/stores"
)

// Check compares the ledger with the chain index to the base unit: every
// confirmed deposit is the output or transfer the index holds, and every
// confirmed sweep's transaction spends exactly its deposits (Bitcoin family)
// and pays its destination and fee address exactly what the ledger says. It
// returns the disagreements, none when the books are clean.
// chains says which currency is each chain's coin (nil: the built-ins).
func Check(ctx context.Context, db *pgxpool.Pool, ch *stores.ClickHouse, chains *chainreg.Registry) ([]string, error) {
	var problems []string
	deps, err := checkDeposits(ctx, db, ch)
	if err != nil {
		return nil, err
	}
	problems = append(problems, deps...)
	sws, err := checkSweeps(ctx, db, ch, chains)
	if err != nil {
		return nil, err
	}
	return append(problems, sws...), nil
}

// onChain reads one row from the index (canonical blocks only).
func onChain(ctx context.Context, ch *stores.ClickHouse, sql string, args ...any) (addr, value string, found bool, err error) {
	rows, err := ch.Query(ctx, sql+" AND "+store.CanonicalFilter+" LIMIT 1", args...)
	if err != nil {
		return "", "", false, fmt.Errorf("chain index: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return "", "", false, rows.Err()
	}
	err = rows.Scan(&addr, &value)
	return addr, value, err == nil, err
}

func checkDeposits(ctx context.Context, db *pgxpool.Pool, ch *stores.ClickHouse) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT d.id, d.chain, d.txid, d.position, d.amount::text, w.address
		FROM deposits d JOIN wallets w ON w.id = d.wallet_id WHERE d.status = 1 ORDER BY d.id`)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	type dep struct {
		id                               int64
		chain, txid, pos, amount, wallet string
	}
	var ds []dep
	for rows.Next() {
		var d dep
		if err := rows.Scan(&d.id, &d.chain, &d.txid, &d.pos, &d.amount, &d.wallet); err != nil {
			rows.Close()
			return nil, err
		}
		ds = append(ds, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var problems []string
	for _, d := range ds {
		var sql string
		var args []any
		kind, arg, _ := strings.Cut(d.pos, ":")
		switch {
		case chainreg.FamilyOf(d.chain) == chainreg.Bitcoin && kind == "vout":
			n, _ := strconv.ParseUint(arg, 10, 32)
			sql, args = "SELECT address, toString(value) FROM outputs WHERE txid = ? AND n = ?", []any{d.txid, uint32(n)}
		case kind == "tx":
			sql, args = "SELECT to_address, value FROM eth_transactions WHERE hash = ? AND status = 1", []any{d.txid}
		case kind == "log":
			n, _ := strconv.ParseUint(arg, 10, 32)
			sql, args = "SELECT to_address, value FROM token_transfers WHERE tx_hash = ? AND log_index = ?", []any{d.txid, uint32(n)}
		case kind == "trace":
			sql, args = "SELECT to_address, value FROM internal_transfers WHERE tx_hash = ? AND trace_address = ?", []any{d.txid, arg}
		default:
			problems = append(problems, fmt.Sprintf("deposit %d: unknown position %q", d.id, d.pos))
			continue
		}
		addr, value, found, err := onChain(ctx, ch, sql, append(args, d.chain, d.chain, d.chain)...)
		if err != nil {
			return nil, err
		}
		switch {
		case !found:
			problems = append(problems, fmt.Sprintf("deposit %d (%s %s %s): confirmed in the ledger, not in the chain index", d.id, d.chain, d.txid, d.pos))
		case !strings.EqualFold(addr, d.wallet) || value != d.amount:
			problems = append(problems, fmt.Sprintf("deposit %d (%s %s %s): the ledger says %s to %s, the chain %s to %s",
				d.id, d.chain, d.txid, d.pos, d.amount, d.wallet, value, addr))
		}
	}
	return problems, nil
}

func checkSweeps(ctx context.Context, db *pgxpool.Pool, ch *stores.ClickHouse, chains *chainreg.Registry) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT s.id, s.chain, s.currency, s.kind, s.txid, s.destination, s.amount::text, s.fee_service::text, s.fee_address,
			coalesce(array_agg(d.txid || ':' || substr(d.position, 6)) FILTER (WHERE d.id IS NOT NULL), '{}')
		FROM sweeps s LEFT JOIN deposits d ON d.sweep_id = s.id
		WHERE s.state = 'confirmed' GROUP BY s.id ORDER BY s.id`)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	type sw struct {
		id                                                   int64
		chain, currency, kind, txid, dest, amount, fee, feeA string
		spends                                               []string
	}
	var ss []sw
	for rows.Next() {
		var s sw
		if err := rows.Scan(&s.id, &s.chain, &s.currency, &s.kind, &s.txid, &s.dest, &s.amount, &s.fee, &s.feeA, &s.spends); err != nil {
			rows.Close()
			return nil, err
		}
		ss = append(ss, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var problems []string
	for _, s := range ss {
		pays := map[string]string{strings.ToLower(s.dest): s.amount}
		// Ethereum pays a sweep's service fee in a fee job of its own
		// (checked as its own row), not in the sweep's transaction.
		if s.fee != "0" && s.feeA != "" && chainreg.FamilyOf(s.chain) == chainreg.Bitcoin {
			pays[strings.ToLower(s.feeA)] = s.fee
		}
		got, err := paid(ctx, ch, s.chain, s.currency == chains.NativeOf(s.chain), s.txid)
		if err != nil {
			return nil, err
		}
		if len(got) == 0 {
			problems = append(problems, fmt.Sprintf("sweep %d (%s %s): confirmed in the ledger, not in the chain index", s.id, s.chain, s.txid))
			continue
		}
		for to, want := range pays {
			if got[to] != want {
				problems = append(problems, fmt.Sprintf("sweep %d (%s %s): the ledger pays %s to %s, the chain %q", s.id, s.chain, s.txid, want, to, got[to]))
			}
		}
		if chainreg.FamilyOf(s.chain) == chainreg.Bitcoin && len(s.spends) > 0 {
			spent, err := txInputsAnyHeight(ctx, ch, s.chain, s.txid)
			if err != nil {
				return nil, err
			}
			sort.Strings(spent)
			sort.Strings(s.spends)
			if strings.Join(spent, ",") != strings.Join(s.spends, ",") {
				problems = append(problems, fmt.Sprintf("sweep %d (%s %s): spends %v on chain, the ledger's deposits are %v", s.id, s.chain, s.txid, spent, s.spends))
			}
		}
	}
	return problems, nil
}

// paid lists what a transaction paid to each address (lower-case) in the
// sweep's currency, as the chain index holds it.
func paid(ctx context.Context, ch *stores.ClickHouse, chain string, native bool, txid string) (map[string]string, error) {
	var sql string
	switch {
	case chainreg.FamilyOf(chain) == chainreg.Bitcoin:
		sql = "SELECT lower(address), toString(sum(value)) FROM outputs WHERE txid = ? AND "
	case native:
		sql = "SELECT lower(to_address), value FROM eth_transactions WHERE hash = ? AND status = 1 AND "
	default:
		sql = "SELECT lower(to_address), value FROM token_transfers WHERE tx_hash = ? AND "
	}
	sql += store.CanonicalFilter
	if chainreg.FamilyOf(chain) == chainreg.Bitcoin {
		sql += " GROUP BY lower(address)"
	}
	rows, err := ch.Query(ctx, sql, txid, chain, chain, chain)
	if err != nil {
		return nil, fmt.Errorf("chain index: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var a, v string
		if err := rows.Scan(&a, &v); err != nil {
			return nil, err
		}
		out[a] = v
	}
	return out, rows.Err()
}

// txInputsAnyHeight reads a transaction's spent outpoints without knowing its
// block (a scan of the chain's inputs; sweeps are few).
func txInputsAnyHeight(ctx context.Context, ch *stores.ClickHouse, chain, txid string) ([]string, error) {
	rows, err := ch.Query(ctx, "SELECT DISTINCT prev_txid, prev_vout FROM inputs WHERE chain = ? AND txid = ? AND is_coinbase = 0", chain, txid)
	if err != nil {
		return nil, fmt.Errorf("chain index: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		var n uint32
		if err := rows.Scan(&p, &n); err != nil {
			return nil, err
		}
		out = append(out, p+":"+strconv.FormatUint(uint64(n), 10))
	}
	return out, rows.Err()
}
