package payments

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/chain"
)

// ErrCurrencyChanged: the configuration gives a currency the ledger has
// used another chain, contract, decimals or key branch, or gives a new
// currency a branch or contract another one has had. Its wallets and
// deposits were made with what the ledger recorded: running on would match
// deposits to the wrong token, scale amounts wrongly or move addresses.
var ErrCurrencyChanged = errors.New("the configuration changes what a currency of the ledger is")

// Pinned is what PinCurrencies found.
type Pinned struct {
	// Added are the configured currencies the ledger had not recorded yet,
	// recorded now.
	Added []string
	// Unconfigured are currencies with wallets in the ledger that the
	// configuration lacks: their deposits are not followed by this process.
	Unconfigured []string
}

// recorded is a row of the ledger's currencies table.
type recorded struct {
	chain.Currency
	firstSeen time.Time
}

// PinCurrencies holds the registry's currencies to what the ledger recorded
// of them (table currencies): a currency recorded with another chain,
// contract, decimals or key branch, or a new one taking the key branch or
// contract of a recorded one, is an error wrapping ErrCurrencyChanged that
// names each currency with both values, and nothing is written. Otherwise
// the configured currencies not recorded yet are recorded. Processes that
// write wallets or deposits call it before they start; concurrent calls
// are serialised. It also lists the currencies with wallets that reg lacks.
func PinCurrencies(ctx context.Context, db *pgxpool.Pool, reg *chain.Registry) (Pinned, error) {
	var out Pinned
	configured := reg.Currencies()
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		// one pinning at a time: two processes starting together must not
		// both record a new currency each on the same branch
		if _, err := tx.Exec(ctx, `LOCK TABLE currencies IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT code, chain, contract, decimals, key_branch, first_seen FROM currencies ORDER BY code`)
		if err != nil {
			return err
		}
		have, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (recorded, error) {
			var r recorded
			var branch int64
			err := row.Scan(&r.Code, &r.Chain, &r.Contract, &r.Decimals, &branch, &r.firstSeen)
			r.KeyBranch = uint32(branch)
			return r, err
		})
		if err != nil {
			return err
		}
		if errs := changes(have, configured); len(errs) > 0 {
			return fmt.Errorf("%w:\n%w", ErrCurrencyChanged, errors.Join(errs...))
		}
		for _, c := range configured {
			if slices.ContainsFunc(have, func(r recorded) bool { return r.Code == c.Code }) {
				continue
			}
			if _, err := tx.Exec(ctx, `INSERT INTO currencies (code, chain, contract, decimals, key_branch) VALUES ($1, $2, $3, $4, $5)`,
				c.Code, c.Chain, c.Contract, c.Decimals, int64(c.KeyBranch)); err != nil {
				return fmt.Errorf("record currency %s: %w", c.Code, err)
			}
			out.Added = append(out.Added, c.Code)
		}
		// Wallets older than this table are of built-in currencies, the
		// only ones sluice took then; newer ones of recorded currencies.
		candidates := chain.BuiltinCodes()
		for _, r := range have {
			if !slices.Contains(candidates, r.Code) {
				candidates = append(candidates, r.Code)
			}
		}
		for _, code := range candidates {
			if _, ok := reg.Currency(code); ok {
				continue
			}
			var has bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM wallets WHERE currency = $1)`, code).Scan(&has); err != nil {
				return err
			}
			if has {
				out.Unconfigured = append(out.Unconfigured, code)
			}
		}
		return nil
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return Pinned{}, fmt.Errorf("the ledger has no currencies table yet (schema older than this sluice): run sluice migrate: %w", err)
	}
	if err != nil && !errors.Is(err, ErrCurrencyChanged) {
		return Pinned{}, fmt.Errorf("pin the ledger's currencies: %w", err)
	}
	if err != nil {
		return Pinned{}, err
	}
	slices.Sort(out.Unconfigured)
	return out, nil
}

// changes lists how configured differs from what have recorded: a
// recorded currency with another chain, contract, decimals or key branch,
// and a new currency on a recorded one's key branch or contract.
func changes(have []recorded, configured []chain.Currency) []error {
	var errs []error
	since := func(r recorded) string { return "recorded " + r.firstSeen.UTC().Format(time.DateOnly) }
	for _, c := range configured {
		i := slices.IndexFunc(have, func(r recorded) bool { return r.Code == c.Code })
		if i >= 0 {
			r := have[i]
			for _, f := range []struct{ name, rec, cfg string }{
				{"chain", r.Chain, c.Chain},
				{"contract", orNone(r.Contract), orNone(c.Contract)},
				{"decimals", strconv.Itoa(r.Decimals), strconv.Itoa(c.Decimals)},
				{"key branch", strconv.FormatUint(uint64(r.KeyBranch), 10), strconv.FormatUint(uint64(c.KeyBranch), 10)},
			} {
				if f.rec != f.cfg {
					errs = append(errs, fmt.Errorf("%s: %s %s in the configuration, %s in the ledger (%s; its %s wallets and deposits are of it): "+
						"set it back, a different token needs a new symbol (docs/operations.md, Adding a token or a chain)",
						c.Code, f.name, f.cfg, f.rec, since(r), c.Code))
				}
			}
			continue
		}
		for _, r := range have {
			if r.Chain != c.Chain {
				continue
			}
			if r.KeyBranch == c.KeyBranch {
				errs = append(errs, fmt.Errorf("%s: key branch %d on %s is %s's (%s), configured or not: its addresses would be %s's; give %s another branch",
					c.Code, c.KeyBranch, c.Chain, r.Code, since(r), r.Code, c.Code))
			}
			if c.Contract != "" && r.Contract == c.Contract {
				errs = append(errs, fmt.Errorf("%s: contract %s on %s is %s's (%s): a token keeps its first symbol; configure it as %s",
					c.Code, c.Contract, c.Chain, r.Code, since(r), r.Code))
			}
		}
	}
	return errs
}

func orNone(contract string) string {
	if contract == "" {
		return "none (the chain's own coin)"
	}
	return contract
}
