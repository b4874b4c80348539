package sweep

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// HotHolder is a Chain that can read what its hot wallet holds on chain,
// per currency, for the solvency check.
type HotHolder interface {
	HotBalances(ctx context.Context) (map[string]*big.Int, error)
}

// Solvency is one currency's comparison of the hot wallet on chain with
// what the ledger owes the merchants there.
type Solvency struct {
	Currency string
	// OnChain is what the hot wallet holds; Owed the sum of the merchants'
	// balances (merchant_balance: pending withdrawals and their reserved
	// fees are already off them, so their coins still in the wallet only
	// add to OnChain).
	OnChain, Owed *big.Int
	// Shortfall is Owed - OnChain when positive, else 0.
	Shortfall *big.Int
	// Negative lists merchants whose balance is below zero (never allowed:
	// the schema refuses such withdrawals, so one means a lost credit).
	Negative []string
}

// OK is true when the wallet covers what is owed and no balance is negative.
func (s Solvency) OK() bool { return s.Shortfall.Sign() == 0 && len(s.Negative) == 0 }

func (s Solvency) String() string {
	if s.OK() {
		return fmt.Sprintf("%s: the hot wallet holds %s, the ledger owes %s (base units)", s.Currency, s.OnChain, s.Owed)
	}
	msg := fmt.Sprintf("%s: the hot wallet holds %s, the ledger owes merchants %s: short by %s base units",
		s.Currency, s.OnChain, s.Owed, s.Shortfall)
	for _, n := range s.Negative {
		msg += "; " + n
	}
	return msg
}

// CheckSolvency compares, for each currency held, the hot wallet on chain
// with the sum of merchant balances in the ledger. Money owed beyond the
// hot wallet (deposits not yet swept, settlement sweeps) is on other
// addresses and not part of it.
func CheckSolvency(ctx context.Context, db *pgxpool.Pool, held map[string]*big.Int) ([]Solvency, error) {
	curs := make([]string, 0, len(held))
	for c := range held {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	var out []Solvency
	for _, cur := range curs {
		rows, err := db.Query(ctx, `WITH m AS (
				SELECT merchant_id FROM sweeps WHERE currency = $1 AND merchant_id IS NOT NULL
				UNION SELECT merchant_id FROM withdrawals WHERE currency = $1 OR fee_currency = $1)
			SELECT merchant_id, merchant_balance(merchant_id, $1)::text FROM m ORDER BY 1`, cur)
		if err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		type bal struct {
			id  int64
			val string
		}
		bals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bal, error) {
			var b bal
			return b, r.Scan(&b.id, &b.val)
		})
		if err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		s := Solvency{Currency: cur, OnChain: new(big.Int).Set(held[cur]), Owed: new(big.Int), Shortfall: new(big.Int)}
		for _, b := range bals {
			v := mustInt(b.val)
			if v.Sign() < 0 {
				s.Negative = append(s.Negative, fmt.Sprintf("merchant %d's balance is %s", b.id, v))
				continue
			}
			s.Owed.Add(s.Owed, v)
		}
		if d := new(big.Int).Sub(s.Owed, s.OnChain); d.Sign() > 0 {
			s.Shortfall = d
		}
		out = append(out, s)
	}
	return out, nil
}

// solvencyLoop runs the solvency check at start and every
// SolvencyInterval until ctx ends (never when negative, or when the chain
// cannot read its hot wallet); failures are logged and retried.
func (r *Runner) solvencyLoop(ctx context.Context) {
	hh, ok := r.Impl.(HotHolder)
	if !ok || r.SolvencyInterval < 0 {
		return
	}
	for ctx.Err() == nil {
		if err := r.solvency(ctx, hh); err != nil && ctx.Err() == nil {
			r.Log.Warn("solvency check failed; retrying", "chain", r.Chain, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.SolvencyInterval):
		}
	}
}

// solvency checks the chain's hot wallet against the ledger: a shortfall
// or a negative balance pauses withdrawals of that currency (sluice
// withdrawals resume lifts it).
func (r *Runner) solvency(ctx context.Context, hh HotHolder) error {
	held, err := hh.HotBalances(ctx)
	if err != nil {
		return fmt.Errorf("solvency check: %w", err)
	}
	res, err := CheckSolvency(ctx, r.DB, held)
	if err != nil {
		return fmt.Errorf("solvency check: %w", err)
	}
	for _, s := range res {
		if r.Metrics != nil {
			r.Metrics.HotWallet.WithLabelValues(s.Currency).Set(float64FromInt(s.OnChain))
			r.Metrics.Owed.WithLabelValues(s.Currency).Set(float64FromInt(s.Owed))
			r.Metrics.Shortfall.WithLabelValues(s.Currency).Set(float64FromInt(s.Shortfall))
		}
		if s.OK() {
			continue
		}
		paused, err := Pause(ctx, r.DB, s.Currency, "solvency check: "+s.String())
		if err != nil {
			return err
		}
		r.Log.Error("the hot wallet does not cover what the ledger owes; withdrawals paused", "currency", s.Currency,
			"on_chain", s.OnChain.String(), "owed", s.Owed.String(), "shortfall", s.Shortfall.String(), "negative", s.Negative,
			"newly_paused", paused)
	}
	return r.pausedGauge(ctx)
}

// pausedGauge sets sluice_withdrawals_paused for the chain's currencies.
func (r *Runner) pausedGauge(ctx context.Context) error {
	if r.Metrics == nil {
		return nil
	}
	ps, err := Pauses(ctx, r.DB)
	if err != nil {
		return err
	}
	paused := map[string]bool{}
	for _, p := range ps {
		paused[p.Currency] = true
	}
	for _, cur := range r.Currencies {
		v := 0.0
		if paused[cur] {
			v = 1
		}
		r.Metrics.Paused.WithLabelValues(cur).Set(v)
	}
	return nil
}

func float64FromInt(v *big.Int) float64 {
	f, _ := new(big.Float).SetInt(v).Float64()
	return f
}
