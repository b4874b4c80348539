package sweep

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicepay/sluice/amount"
	chainreg "github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/internal/fault"
)

// Operator is what the operator configured for sweeping one chain.
type Operator struct {
	// FeeAddress per currency: where service fees go.
	FeeAddress map[string]string
	// HotWallet per currency: where a merchant's deposits go when it has
	// no settlement address (its balance, for withdrawals).
	HotWallet map[string]string
	// Minimum tells whether a litepay payment is worth forwarding (1 USD by
	// the seed); ok=false makes it a donation. An error (no fresh rate) makes
	// it wait. nil: every payment is forwarded.
	Minimum func(ctx context.Context, currency string, units *big.Int) (ok bool, err error)
}

// ready is a confirmed, unswept deposit with what planning needs.
type ready struct {
	Input
	merchantID, walletID int64
	receive              bool // a litepay receive address
	receiveDest          string
	receiveFee           string // exact fraction
	settleAddr           string
	window               time.Duration
	minAmount            *big.Int
	feePercent           string
	feeFixed, feeMin     *big.Int
	readyAt              time.Time
}

// group is the deposits that go out in one job.
type group struct {
	kind, destination, currency string
	merchantID                  int64
	feePercent                  string
	feeFixed, feeMin            *big.Int
	inputs                      []ready
}

func (g *group) gross() *big.Int {
	s := new(big.Int)
	for _, in := range g.inputs {
		s.Add(s, in.Amount)
	}
	return s
}

// plan turns the chain's confirmed, unswept deposits into planned jobs in one
// transaction: the deposits are locked (SKIP LOCKED, so several runners can
// share a ledger) and marked with their job before the commit.
func (r *Runner) plan(ctx context.Context) (int, error) {
	tx, err := r.DB.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	rows, err := tx.Query(ctx, `SELECT d.id, d.txid, d.position, d.amount::text, w.address, d.currency, m.key_account, w.derivation_index,
			w.merchant_id, w.id, ra.wallet_id IS NOT NULL, coalesce(ra.destination, ''), coalesce(ra.fee_percent, 0)::text,
			coalesce(ms.address, ''), coalesce(extract(epoch FROM ms.batch_window), 0)::float8, coalesce(ms.min_amount, 0)::text,
			coalesce(ms.fee_percent, 0)::text, coalesce(ms.fee_fixed, 0)::text, coalesce(ms.fee_min, 0)::text, d.updated_at
		FROM deposits d JOIN wallets w ON w.id = d.wallet_id JOIN merchants m ON m.id = w.merchant_id
		LEFT JOIN receive_addresses ra ON ra.wallet_id = w.id
		LEFT JOIN merchant_settlements ms ON ms.merchant_id = w.merchant_id AND ms.currency = d.currency
		WHERE d.chain = $1 AND d.status = 1 AND d.sweep_id IS NULL AND NOT d.donation AND NOT w.watch_only
		ORDER BY d.id
		FOR UPDATE OF d SKIP LOCKED`, r.Chain)
	if err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	var rs []ready
	for rows.Next() {
		var d ready
		var amt, minAmt, fixed, fmin string
		var window float64
		if err := rows.Scan(&d.DepositID, &d.TxID, &d.Position, &amt, &d.Address, &d.Currency, &d.Account, &d.Index,
			&d.merchantID, &d.walletID, &d.receive, &d.receiveDest, &d.receiveFee, &d.settleAddr, &window, &minAmt,
			&d.feePercent, &fixed, &fmin, &d.readyAt); err != nil {
			rows.Close()
			return 0, err
		}
		d.Amount, d.minAmount, d.feeFixed, d.feeMin = mustInt(amt), mustInt(minAmt), mustInt(fixed), mustInt(fmin)
		d.window = time.Duration(window * float64(time.Second))
		rs = append(rs, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	groups, err := r.group(ctx, tx, rs)
	if err != nil {
		return 0, err
	}
	planned := 0
	for _, g := range groups {
		ok, err := r.worthIt(ctx, tx, g)
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		gross := g.gross()
		fee := serviceFee(gross, g.feePercent, g.feeFixed, g.feeMin)
		feeAddr := r.Operator.FeeAddress[g.currency]
		if fee.Sign() > 0 && feeAddr == "" {
			r.Log.Warn("no fee address configured for the currency: the service fee is not taken", "currency", g.currency)
			fee = new(big.Int)
		}
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO sweeps (chain, currency, merchant_id, kind, destination, amount, fee_service, fee_address)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, r.Chain, g.currency, g.merchantID, g.kind, g.destination,
			gross.String(), fee.String(), feeAddr).Scan(&id); err != nil {
			return 0, fmt.Errorf("plan sweep: %w", err)
		}
		ids := make([]int64, len(g.inputs))
		for i, in := range g.inputs {
			ids[i] = in.DepositID
		}
		if _, err := tx.Exec(ctx, "UPDATE deposits SET sweep_id = $1 WHERE id = ANY($2)", id, ids); err != nil {
			return 0, fmt.Errorf("ledger: %w", err)
		}
		r.Log.Info("sweep planned", "id", id, "kind", g.kind, "currency", g.currency, "deposits", len(ids), "gross", gross.String(),
			"service_fee", fee.String(), "destination", g.destination)
		planned++
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("ledger: %w", err)
	}
	if planned > 0 {
		fault.At("sweep:planned")
	}
	return planned, nil
}

// group sorts ready deposits into jobs: a litepay receive address forwards
// its own payments (after the donation check); a merchant's others go
// together to its settlement address or the hot wallet. On Ethereum each
// deposit address sends its own transaction, so it is a group of its own.
func (r *Runner) group(ctx context.Context, tx pgx.Tx, rs []ready) ([]*group, error) {
	byKey := map[string]*group{}
	var order []string
	for _, d := range rs {
		g := &group{currency: d.Currency, merchantID: d.merchantID, feePercent: d.feePercent, feeFixed: d.feeFixed, feeMin: d.feeMin}
		switch {
		case d.receive:
			if r.Operator.Minimum != nil {
				ok, err := r.Operator.Minimum(ctx, d.Currency, d.Amount)
				if err != nil {
					r.Log.Warn("forwarding waits: no fresh rate for the 1 USD minimum", "deposit", d.DepositID, "err", err)
					continue
				}
				if !ok {
					if _, err := tx.Exec(ctx, "UPDATE deposits SET donation = true WHERE id = $1", d.DepositID); err != nil {
						return nil, fmt.Errorf("ledger: %w", err)
					}
					r.Log.Info("payment under the minimum kept as a donation, not forwarded", "deposit", d.DepositID,
						"currency", d.Currency, "amount", d.Amount.String())
					if r.Metrics != nil {
						r.Metrics.Donations.WithLabelValues(d.Currency).Inc() // once: a donation is never planned again
					}
					continue
				}
			}
			g.kind, g.destination = KindForward, d.receiveDest
			g.feePercent, g.feeFixed, g.feeMin = d.receiveFee, new(big.Int), new(big.Int)
		case d.settleAddr != "":
			g.kind, g.destination = KindSettle, d.settleAddr
		default:
			g.kind, g.destination = KindHot, r.Operator.HotWallet[d.Currency]
			if g.destination == "" {
				continue // no hot wallet for this currency: the deposit stays where it is
			}
		}
		key := fmt.Sprintf("%s|%d|%s|%s", g.kind, g.merchantID, g.currency, g.destination)
		if chainreg.FamilyOf(r.Chain) == chainreg.EVM {
			key += "|" + strings.ToLower(d.Address)
		}
		if have, ok := byKey[key]; ok {
			have.inputs = append(have.inputs, d)
			continue
		}
		g.inputs = []ready{d}
		byKey[key] = g
		order = append(order, key)
	}
	out := make([]*group, 0, len(order))
	for _, k := range order {
		out = append(out, byKey[k])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].inputs[0].DepositID < out[j].inputs[0].DepositID })
	return out, nil
}

// worthIt applies the merchant's batching: enough money, the window passed,
// and more than the last attempt that did not cover its fees.
func (r *Runner) worthIt(ctx context.Context, tx pgx.Tx, g *group) (bool, error) {
	first := g.inputs[0]
	gross := g.gross()
	if g.kind != KindForward {
		if gross.Cmp(first.minAmount) < 0 {
			return false, nil
		}
		oldest := first.readyAt
		for _, in := range g.inputs {
			if in.readyAt.Before(oldest) {
				oldest = in.readyAt
			}
		}
		if time.Since(oldest) < first.window {
			return false, nil
		}
	}
	var last string
	err := tx.QueryRow(ctx, `SELECT coalesce(max(amount), -1)::text FROM sweeps WHERE chain = $1 AND merchant_id = $2 AND currency = $3
		AND destination = $4 AND state = 'failed' AND error LIKE 'uneconomic%' AND created_at > now() - interval '1 day'`,
		r.Chain, g.merchantID, g.currency, g.destination).Scan(&last)
	if err != nil {
		return false, fmt.Errorf("ledger: %w", err)
	}
	return gross.Cmp(mustInt(last)) > 0, nil
}

// serviceFee is max(min, gross × percent + fixed), never more than gross;
// percent is an exact decimal fraction with at most 4 decimals, rounded down
// to the base unit.
func serviceFee(gross *big.Int, percent string, fixed, minFee *big.Int) *big.Int {
	bp, err := amount.Parse(percent, 4) // in 1/10,000ths
	if err != nil {
		bp = new(big.Int)
	}
	fee := new(big.Int).Mul(gross, bp)
	fee.Div(fee, big.NewInt(10_000))
	fee.Add(fee, fixed)
	if fee.Cmp(minFee) < 0 {
		fee.Set(minFee)
	}
	if fee.Cmp(gross) > 0 {
		fee.Set(gross)
	}
	return fee
}

func mustInt(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return new(big.Int)
	}
	return v
}

var errNotPlanned = errors.New("the job is no longer planned")
