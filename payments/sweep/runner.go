package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicepay/sluice/internal/fault"
)

// GasTopper is a Chain whose token sweeps need gas at the deposit address
// first (Ethereum): for a job whose Sign said ErrWait, it builds the
// top-up job from the gas tank, or nil when none is needed.
type GasTopper interface {
	GasTopUp(ctx context.Context, job *Job) (*Job, error)
}

// FeeCollector is a Chain whose sweeps leave the service fee at the deposit
// address (Ethereum: one transaction, one recipient): FeeJob builds the job
// that sends it to the fee address once the sweep is confirmed.
type FeeCollector interface {
	FeeJob(job *Job) *Job
}

// Runner drives one chain's sweep jobs: plans jobs for confirmed deposits,
// signs them (storing the signed bytes), broadcasts, and follows them to
// their confirmations. Every step is one state change in Postgres after its
// effect, so a crash anywhere repeats the step: signing again only happens
// for a job still planned (nothing was stored, nothing sent), broadcasting
// again sends the same bytes, which the node takes as already known.
type Runner struct {
	DB       *pgxpool.Pool
	Chain    string
	Impl     Chain
	Operator Operator
	Log      *slog.Logger
	Metrics  *Metrics // may be nil
	// Interval between rounds (default 5 s); Confirmations a sweep needs to
	// count as confirmed (default 1).
	Interval      time.Duration
	Confirmations int64
	// RebroadcastAfter: a broadcast job the node does not know is sent again
	// after this long (default 1 min).
	RebroadcastAfter time.Duration
	// BumpAfter: a broadcast job still in the mempool this long after it was
	// sent is replaced by one paying a higher fee, where Impl is a Bumper;
	// 0 never bumps. A bump that cannot be made waits as long again.
	BumpAfter time.Duration
	// SolvencyInterval: how often the hot wallet on chain is compared with
	// what the ledger owes (default 1 min; negative never). Currencies are
	// the chain's, for the metrics.
	SolvencyInterval time.Duration
	Currencies       []string

	lastQuote time.Time
}

// FeeQuoter is a Chain that quotes the fee reserve of a withdrawal made now.
type FeeQuoter interface {
	WithdrawalFeeQuote(ctx context.Context, currency string) (*big.Int, error)
}

// quote records the chain's withdrawal fee reserve quotes, every 30 s.
func (r *Runner) quote(ctx context.Context) error {
	fq, ok := r.Impl.(FeeQuoter)
	if !ok || time.Since(r.lastQuote) < 30*time.Second {
		return nil
	}
	for _, cur := range r.Currencies {
		v, err := fq.WithdrawalFeeQuote(ctx, cur)
		if err != nil {
			return fmt.Errorf("withdrawal fee quote of %s: %w", cur, err)
		}
		if err := SetQuote(ctx, r.DB, cur, v); err != nil {
			return err
		}
	}
	r.lastQuote = time.Now()
	return nil
}

// Metrics of the sweep runners.
type Metrics struct {
	Jobs *prometheus.CounterVec // state changes, per chain, kind and state
	Open *prometheus.GaugeVec   // jobs not yet confirmed or failed, per chain and state
	// The solvency check, per currency: the hot wallet on chain, the sum of
	// merchant balances, the shortfall, and whether withdrawals are paused.
	HotWallet, Owed, Shortfall, Paused *prometheus.GaugeVec
	// Donations counts litepay payments kept under the minimum, per currency.
	Donations *prometheus.CounterVec
	// RoundErrors counts failures of a round's steps, per chain and stage
	// (plan, ledger, job, quote); OldestJob is the age of
	// the oldest job in each open state (planned included), per chain.
	RoundErrors *prometheus.CounterVec
	OldestJob   *prometheus.GaugeVec
}

// NewMetrics registers the sweep metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_sweep_jobs_total",
			Help: "Sweep job state changes, by chain, kind and new state."}, []string{"chain", "kind", "state"}),
		Open: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_sweep_jobs_open",
			Help: "Sweep jobs not yet confirmed or failed, by chain and state."}, []string{"chain", "state"}),
	}
	m.HotWallet = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_hot_wallet_balance_base_units",
		Help: "What the operator's hot wallet holds on chain, by currency, at the last solvency check."}, []string{"currency"})
	m.Owed = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_ledger_owed_base_units",
		Help: "The sum of merchant balances in the hot wallet according to the ledger, by currency."}, []string{"currency"})
	m.Shortfall = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_solvency_shortfall_base_units",
		Help: "How much the hot wallet on chain is short of what the ledger owes merchants (0 when solvent), by currency."}, []string{"currency"})
	m.Paused = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_withdrawals_paused",
		Help: "1 while withdrawals of the currency are paused (solvency shortfall, reorg of a swept deposit), else 0."}, []string{"currency"})
	m.Donations = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_litepay_donations_total",
		Help: "litepay payments under the 1 USD minimum kept as donations (not forwarded, no callback), by currency."}, []string{"currency"})
	m.RoundErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_sweep_round_errors_total",
		Help: "Failures in sweep rounds, by chain and stage: plan (new jobs could not be planned), ledger (open jobs could not be read), job (a job could not be built, signed, sent or followed; one per job), quote (the fee reserve quote); the log says why."},
		[]string{"chain", "stage"})
	m.OldestJob = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_sweep_job_oldest_seconds",
		Help: "Age of the oldest sweep job in each open state (planned, signed, broadcast), by chain; 0 when none."}, []string{"chain", "state"})
	reg.MustRegister(m.Jobs, m.Open, m.HotWallet, m.Owed, m.Shortfall, m.Paused, m.Donations, m.RoundErrors, m.OldestJob)
	return m
}

// Run plans and advances jobs until ctx ends; database and node errors are
// logged and retried next round.
func (r *Runner) Run(ctx context.Context) error {
	if r.Interval == 0 {
		r.Interval = 5 * time.Second
	}
	if r.Confirmations == 0 {
		r.Confirmations = 1
	}
	if r.RebroadcastAfter == 0 {
		r.RebroadcastAfter = time.Minute
	}
	if r.SolvencyInterval == 0 {
		r.SolvencyInterval = time.Minute
	}
	r.initMetrics()
	r.Log.Info("sweeping", "chain", r.Chain, "every", r.Interval)
	// The solvency check reads the hot wallet from the node (scantxoutset on
	// bitcoind/litecoind takes minutes on mainnet): on its own clock, so it
	// never holds up a sweep round.
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.solvencyLoop(ctx)
	}()
	defer func() { <-done }()
	for ctx.Err() == nil {
		if err := r.Round(ctx); err != nil && ctx.Err() == nil {
			r.Log.Warn("sweep round failed; retrying", "chain", r.Chain, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.Interval):
		}
	}
	return nil
}

// Round plans new jobs and moves every open job one step where it can.
func (r *Runner) Round(ctx context.Context) error {
	if _, err := r.plan(ctx); err != nil {
		return r.failed(ctx, "plan", err)
	}
	jobs, err := r.open(ctx)
	if err != nil {
		return r.failed(ctx, "ledger", err)
	}
	var errs []error
	for _, j := range jobs {
		if err := r.advance(ctx, j); err != nil {
			errs = append(errs, r.failed(ctx, "job", err)) // advance names the sweep
		}
	}
	r.gauge(ctx)
	if err := r.quote(ctx); err != nil {
		errs = append(errs, r.failed(ctx, "quote", err))
	}
	return errors.Join(errs...)
}

// failed counts a failed step of a round (not one cut short by ctx) and
// returns its error.
func (r *Runner) failed(ctx context.Context, stage string, err error) error {
	if r.Metrics != nil && ctx.Err() == nil {
		r.Metrics.RoundErrors.WithLabelValues(r.Chain, stage).Inc()
	}
	return err
}

// open lists the chain's jobs that are planned, signed or broadcast.
func (r *Runner) open(ctx context.Context) ([]*Job, error) {
	rows, err := r.DB.Query(ctx, `SELECT s.id, s.currency, coalesce(s.merchant_id, 0), s.kind, s.state, s.destination, s.amount::text,
			s.fee_service::text, s.fee_address, s.fee_network::text, s.from_address, s.nonce, s.raw_tx, s.txid,
			coalesce(s.replaces, 0), coalesce(s.after_sweep, 0), coalesce(s.broadcast_at, now()),
			w.fee_reserved::text, coalesce(w.fee_currency, '')
		FROM sweeps s LEFT JOIN withdrawals w ON w.sweep_id = s.id AND s.kind = 'withdraw'
		WHERE s.chain = $1 AND s.state IN ('planned', 'signed', 'broadcast') ORDER BY s.id`, r.Chain)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	var out []*Job
	for rows.Next() {
		j := &Job{Chain: r.Chain}
		var amount, fee, net string
		var nonce *int64
		var sent time.Time
		var feeMax *string
		if err := rows.Scan(&j.ID, &j.Currency, &j.MerchantID, &j.Kind, &j.State, &j.Destination, &amount, &fee, &j.FeeAddress,
			&net, &j.From, &nonce, &j.RawTx, &j.TxID, &j.Replaces, &j.AfterSweep, &sent, &feeMax, &j.FeeCurrency); err != nil {
			return nil, err
		}
		if feeMax != nil {
			j.FeeMax = mustInt(*feeMax)
		}
		j.Gross, j.Amount, j.FeeService, j.FeeNetwork = mustInt(amount), mustInt(amount), mustInt(fee), mustInt(net)
		if nonce != nil {
			n := uint64(*nonce)
			j.Nonce = &n
		}
		j.sentAt = sent
		out = append(out, j)
	}
	return out, rows.Err()
}

// inputs loads the deposits a job spends, with their derivation.
func (r *Runner) inputs(ctx context.Context, j *Job) error {
	rows, err := r.DB.Query(ctx, `SELECT d.id, d.txid, d.position, d.amount::text, w.address, d.currency, m.key_account, w.derivation_index
		FROM deposits d JOIN wallets w ON w.id = d.wallet_id JOIN merchants m ON m.id = w.merchant_id
		WHERE d.sweep_id = $1 ORDER BY d.id`, inputsOf(j))
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	j.Inputs = nil
	for rows.Next() {
		var in Input
		var amt string
		if err := rows.Scan(&in.DepositID, &in.TxID, &in.Position, &amt, &in.Address, &in.Currency, &in.Account, &in.Index); err != nil {
			return err
		}
		in.Amount = mustInt(amt)
		j.Inputs = append(j.Inputs, in)
	}
	return rows.Err()
}

// inputsOf is the job whose deposits j spends: a fee job's are its sweep's.
func inputsOf(j *Job) int64 {
	if j.Kind == KindFee {
		return j.AfterSweep
	}
	return j.ID
}

func (r *Runner) advance(ctx context.Context, j *Job) error {
	switch j.State {
	case StatePlanned:
		return r.sign(ctx, j)
	case StateSigned:
		return r.broadcast(ctx, j)
	case StateBroadcast:
		return r.follow(ctx, j)
	}
	return nil
}

// sign builds and signs a planned job and stores the bytes: state signed.
func (r *Runner) sign(ctx context.Context, j *Job) error {
	if j.AfterSweep != 0 {
		var state string
		if err := r.DB.QueryRow(ctx, "SELECT state FROM sweeps WHERE id = $1", j.AfterSweep).Scan(&state); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		if state != StateConfirmed {
			return nil // its gas top-up first
		}
	}
	if j.Kind == KindWithdraw {
		// a paused currency's withdrawals wait unsigned: nothing leaves the
		// hot wallet until an operator has looked (sluice withdrawals resume)
		for _, cur := range []string{j.Currency, j.FeeCurrency} {
			why, err := Paused(ctx, r.DB, cur)
			if err != nil {
				return err
			}
			if why != "" {
				_, err := r.DB.Exec(ctx, "UPDATE sweeps SET error = $2, updated_at = now() WHERE id = $1 AND error <> $2",
					j.ID, "waiting: withdrawals of "+cur+" are paused: "+why)
				return err
			}
		}
	}
	if err := r.inputs(ctx, j); err != nil {
		return err
	}
	signing := j
	if j.Kind == KindFee { // to the chain a fee job is a sweep like any other
		c := *j
		c.Kind = KindSettle
		signing = &c
	}
	err := r.Impl.Sign(ctx, signing)
	if signing != j {
		j.RawTx, j.TxID, j.Amount, j.FeeNetwork, j.FeeService, j.From, j.Nonce = signing.RawTx, signing.TxID, signing.Amount,
			signing.FeeNetwork, signing.FeeService, signing.From, signing.Nonce
	}
	switch {
	case errors.Is(err, ErrWait):
		if _, dbErr := r.DB.Exec(ctx, "UPDATE sweeps SET error = $2, updated_at = now() WHERE id = $1", j.ID, "waiting: "+err.Error()); dbErr != nil {
			return dbErr
		}
		if gt, ok := r.Impl.(GasTopper); ok && j.AfterSweep == 0 {
			return r.topUp(ctx, gt, j)
		}
		return nil
	case errors.Is(err, ErrUneconomic):
		// the deposits wait for more; the job remembers how much was too little
		return r.failPlanned(ctx, j, "uneconomic: "+err.Error())
	case err != nil:
		if _, dbErr := r.DB.Exec(ctx, "UPDATE sweeps SET attempts = attempts + 1, error = $2, updated_at = now() WHERE id = $1",
			j.ID, err.Error()); dbErr != nil {
			return dbErr
		}
		return err
	}
	if over := overReserve(j, j.FeeNetwork); over != "" {
		// never more than the merchant's balance holds for it: wait for fees to fall
		_, err := r.DB.Exec(ctx, "UPDATE sweeps SET error = $2, updated_at = now() WHERE id = $1", j.ID, "waiting: "+over)
		return err
	}
	var nonce any
	if j.Nonce != nil {
		nonce = int64(*j.Nonce)
	}
	// A withdrawal bears its network fee from now on (on Ethereum the most
	// it can be, until its receipt tells), so its balance cannot pay it twice.
	var stored int
	err = r.DB.QueryRow(ctx, `WITH s AS (UPDATE sweeps SET state = 'signed', raw_tx = $2, txid = $3, amount = $4, fee_network = $5,
				from_address = $6, nonce = $7, fee_service = $8, error = '', updated_at = now()
			WHERE id = $1 AND state = 'planned' RETURNING id, kind, fee_network),
		w AS (UPDATE withdrawals SET gas = s.fee_network FROM s WHERE withdrawals.sweep_id = s.id AND s.kind = 'withdraw')
		SELECT count(*) FROM s`, j.ID, j.RawTx, j.TxID, j.Amount.String(), j.FeeNetwork.String(), j.From, nonce,
		j.FeeService.String()).Scan(&stored)
	if err != nil {
		return fmt.Errorf("store signed sweep: %w", err)
	}
	if stored == 0 {
		return errNotPlanned // another runner got there first: its bytes stand, ours are never sent
	}
	fault.At("sweep:signed") // stored, not sent
	r.count(j, StateSigned)
	r.Log.Info("sweep signed", "id", j.ID, "txid", j.TxID, "amount", j.Amount.String(), "network_fee", j.FeeNetwork.String())
	j.State = StateSigned
	return r.broadcast(ctx, j)
}

// overReserve says why a withdrawal's network fee fee is more than its
// reserve ("" when it is not, or j is no withdrawal).
func overReserve(j *Job, fee *big.Int) string {
	if j.Kind != KindWithdraw || j.FeeMax == nil || fee == nil || fee.Cmp(j.FeeMax) <= 0 {
		return ""
	}
	return fmt.Sprintf("the network fee %s is more than the %s reserved for this withdrawal", fee, j.FeeMax)
}

// topUp plans the gas tank's top-up of a token sweep's deposit address.
func (r *Runner) topUp(ctx context.Context, gt GasTopper, j *Job) error {
	g, err := gt.GasTopUp(ctx, j)
	if err != nil || g == nil {
		return err
	}
	tx, err := r.DB.Begin(ctx)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO sweeps (chain, currency, kind, destination, amount) VALUES ($1, $2, 'gas', $3, $4) RETURNING id`,
		r.Chain, g.Currency, g.Destination, g.Gross.String()).Scan(&id); err != nil {
		return fmt.Errorf("plan gas top-up: %w", err)
	}
	if _, err := tx.Exec(ctx, "UPDATE sweeps SET after_sweep = $2 WHERE id = $1 AND after_sweep IS NULL", j.ID, id); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	r.Log.Info("gas top-up planned", "id", id, "for_sweep", j.ID, "to", g.Destination, "wei", g.Gross.String())
	return tx.Commit(ctx)
}

// failPlanned gives up on a planned job (nothing was signed) and returns its
// deposits to wait.
func (r *Runner) failPlanned(ctx context.Context, j *Job, why string) error {
	failed, err := r.failJob(ctx, j, why, StatePlanned)
	if failed {
		r.Log.Info("sweep not made", "id", j.ID, "reason", why)
	}
	return err
}

// failSent fails a job whose transaction can never pay (reverted on chain,
// its nonce taken by another): its deposits are swept again by a new job,
// and a withdrawal it carried fails.
func (r *Runner) failSent(ctx context.Context, j *Job, cause error) error {
	failed, err := r.failJob(ctx, j, cause.Error(), StateSigned, StateBroadcast)
	if failed {
		r.Log.Warn("sweep failed on chain; its deposits will be swept again", "id", j.ID, "txid", j.TxID, "err", cause)
	}
	return err
}

// failJob marks a job in one of states failed, releases its deposits and
// fails its withdrawal, in one transaction; false when the job was not in
// those states any more.
func (r *Runner) failJob(ctx context.Context, j *Job, why string, states ...string) (bool, error) {
	tx, err := r.DB.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	tag, err := tx.Exec(ctx, "UPDATE sweeps SET state = 'failed', error = $2, updated_at = now() WHERE id = $1 AND state = ANY($3)",
		j.ID, why, states)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	if _, err := tx.Exec(ctx, "UPDATE deposits SET sweep_id = NULL WHERE sweep_id = $1", j.ID); err != nil {
		return false, fmt.Errorf("ledger: %w", err)
	}
	if err := failWithdrawal(ctx, tx, j); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("ledger: %w", err)
	}
	r.count(j, StateFailed)
	return true, nil
}

// failWithdrawal fails the withdrawal a job carried, with its event.
func failWithdrawal(ctx context.Context, tx pgx.Tx, j *Job) error {
	if j.Kind != KindWithdraw {
		return nil
	}
	if _, err := tx.Exec(ctx, `WITH f AS (UPDATE withdrawals SET status = 2 WHERE sweep_id = $1 AND status = 0 RETURNING id)
		INSERT INTO withdrawal_events (withdrawal_id, status) SELECT id, 2 FROM f ON CONFLICT DO NOTHING`, j.ID); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// broadcast sends the stored bytes: state broadcast.
func (r *Runner) broadcast(ctx context.Context, j *Job) error {
	if err := r.Impl.Broadcast(ctx, j.RawTx); err != nil {
		if errors.Is(err, ErrNonceTaken) {
			return r.failSent(ctx, j, err)
		}
		if errors.Is(err, ErrConflict) && j.Replaces != 0 {
			if done, perr := r.predecessorMined(ctx, j); perr != nil || done {
				return perr
			}
		}
		if _, dbErr := r.DB.Exec(ctx, "UPDATE sweeps SET attempts = attempts + 1, error = $2, updated_at = now() WHERE id = $1",
			j.ID, err.Error()); dbErr != nil {
			return dbErr
		}
		return fmt.Errorf("broadcast %s: %w", j.TxID, err)
	}
	fault.At("sweep:sent") // sent, not recorded
	// a withdrawal's status-0 webhook ("added to the blockchain") goes with it
	if _, err := r.DB.Exec(ctx, `WITH s AS (UPDATE sweeps SET state = 'broadcast', broadcast_at = coalesce(broadcast_at, now()), error = '',
			updated_at = now() WHERE id = $1 AND state = 'signed' RETURNING id, kind)
		INSERT INTO withdrawal_events (withdrawal_id, status)
		SELECT w.id, 0 FROM withdrawals w JOIN s ON s.id = w.sweep_id AND s.kind = 'withdraw' WHERE w.status = 0
		ON CONFLICT DO NOTHING`, j.ID); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if j.Kind == KindForward {
		// litepay calls back "each time a payment is forwarded": now, not at the next block
		if _, err := r.DB.Exec(ctx, `UPDATE webhook_deliveries SET next_at = now()
			WHERE flavour = 'litepay' AND state = 'pending' AND next_at = 'infinity'
				AND deposit_id IN (SELECT id FROM deposits WHERE sweep_id = $1)`, j.ID); err != nil {
			r.Log.Warn("litepay callbacks of a forward wait for the next block", "id", j.ID, "err", err)
		}
	}
	r.count(j, StateBroadcast)
	r.Log.Info("sweep broadcast", "id", j.ID, "txid", j.TxID)
	return nil
}

// follow watches a broadcast job to its confirmations, sending the same
// bytes again when the node lost them.
func (r *Runner) follow(ctx context.Context, j *Job) error {
	confs, known, err := r.Impl.Confirmations(ctx, j.TxID)
	if errors.Is(err, ErrReverted) && confs >= r.Confirmations {
		return r.failSent(ctx, j, err)
	}
	if err != nil {
		if _, dbErr := r.DB.Exec(ctx, "UPDATE sweeps SET error = $2, updated_at = now() WHERE id = $1", j.ID, err.Error()); dbErr != nil {
			return dbErr
		}
		return err
	}
	if !known {
		if time.Since(j.sentAt) > r.RebroadcastAfter {
			r.Log.Warn("the node lost a broadcast sweep; sending the same transaction again", "id", j.ID, "txid", j.TxID)
			if err := r.Impl.Broadcast(ctx, j.RawTx); err != nil {
				if errors.Is(err, ErrConflict) && j.Replaces != 0 {
					if done, perr := r.predecessorMined(ctx, j); perr != nil || done {
						return perr
					}
				}
				return fmt.Errorf("rebroadcast %s: %w", j.TxID, err)
			}
			_, err := r.DB.Exec(ctx, "UPDATE sweeps SET broadcast_at = now(), attempts = attempts + 1 WHERE id = $1", j.ID)
			return err
		}
		return nil
	}
	if b, ok := r.Impl.(Bumper); ok && confs == 0 && r.BumpAfter > 0 && time.Since(j.sentAt) > r.BumpAfter {
		return r.bump(ctx, b, j)
	}
	if confs < r.Confirmations {
		return nil
	}
	paid := j.FeeNetwork
	if fm, ok := r.Impl.(FeeMeter); ok && j.Kind == KindWithdraw {
		if paid, err = fm.NetworkFee(ctx, j.TxID); err != nil {
			return fmt.Errorf("withdrawal %s: %w", j.TxID, err)
		}
	}
	tx, err := r.DB.Begin(ctx)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, `UPDATE sweeps SET state = 'confirmed', confirmed_at = now(), error = '', updated_at = now()
		WHERE id = $1 AND state = 'broadcast'`, j.ID); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if j.Kind == KindWithdraw {
		if err := confirmWithdrawal(ctx, tx, j, paid); err != nil {
			return err
		}
	}
	if fc, ok := r.Impl.(FeeCollector); ok {
		if f := fc.FeeJob(j); f != nil {
			var id int64
			if err := tx.QueryRow(ctx, `INSERT INTO sweeps (chain, currency, merchant_id, kind, destination, amount, after_sweep)
				VALUES ($1, $2, $3, 'fee', $4, $5, $6) RETURNING id`, r.Chain, f.Currency, j.MerchantID, f.Destination,
				f.Gross.String(), j.ID).Scan(&id); err != nil {
				return fmt.Errorf("plan fee collection: %w", err)
			}
			r.Log.Info("service fee collection planned", "id", id, "after_sweep", j.ID, "fee", f.Gross.String(), "to", f.Destination)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	r.count(j, StateConfirmed)
	r.Log.Info("sweep confirmed", "id", j.ID, "kind", j.Kind, "txid", j.TxID, "amount", j.Amount.String(), "to", j.Destination)
	return nil
}

// initMetrics makes the chain's job counters exist at 0 for every kind and
// state its Impl can produce, so alerts and rate() see them from the start.
func (r *Runner) initMetrics() {
	if r.Metrics == nil {
		return
	}
	kinds := []string{KindSettle, KindHot, KindForward, KindWithdraw}
	if _, ok := r.Impl.(GasTopper); ok {
		kinds = append(kinds, KindGas)
	}
	if _, ok := r.Impl.(FeeCollector); ok {
		kinds = append(kinds, KindFee)
	}
	states := []string{StateSigned, StateBroadcast, StateConfirmed, StateFailed}
	if _, ok := r.Impl.(Bumper); ok {
		states = append(states, StateReplaced)
	}
	for _, k := range kinds {
		for _, s := range states {
			r.Metrics.Jobs.WithLabelValues(r.Chain, k, s)
		}
	}
	for _, stage := range []string{"plan", "ledger", "job", "quote"} {
		r.Metrics.RoundErrors.WithLabelValues(r.Chain, stage)
	}
	for _, s := range []string{StatePlanned, StateSigned, StateBroadcast} {
		r.Metrics.OldestJob.WithLabelValues(r.Chain, s)
	}
	for _, cur := range r.Currencies {
		r.Metrics.Paused.WithLabelValues(cur)
		r.Metrics.Shortfall.WithLabelValues(cur)
		r.Metrics.Donations.WithLabelValues(cur)
	}
}

func (r *Runner) count(j *Job, state string) {
	if r.Metrics != nil {
		r.Metrics.Jobs.WithLabelValues(r.Chain, j.Kind, state).Inc()
	}
}

func (r *Runner) gauge(ctx context.Context) {
	if r.Metrics == nil {
		return
	}
	for _, s := range []string{StatePlanned, StateSigned, StateBroadcast} {
		var n int
		var age float64
		if err := r.DB.QueryRow(ctx, `SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
			FROM sweeps WHERE chain = $1 AND state = $2`, r.Chain, s).Scan(&n, &age); err == nil {
			r.Metrics.Open.WithLabelValues(r.Chain, s).Set(float64(n))
			r.Metrics.OldestJob.WithLabelValues(r.Chain, s).Set(age)
		}
	}
}

// confirmWithdrawal marks the withdrawals a confirmed job paid, with the
// network fee paid and their event for the withdrawal webhook, in the job's
// transaction.
func confirmWithdrawal(ctx context.Context, tx pgx.Tx, j *Job, paid *big.Int) error {
	if _, err := tx.Exec(ctx, `WITH c AS (UPDATE withdrawals SET status = 1, confirmed_at = now(), gas = $2
			WHERE sweep_id = $1 AND status = 0 RETURNING id)
		INSERT INTO withdrawal_events (withdrawal_id, status) SELECT id, 1 FROM c ON CONFLICT DO NOTHING`, j.ID, paid.String()); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// bump replaces a job stuck in the mempool with one paying a higher fee:
// the replacement is stored signed, and takes over the job's deposits (or
// withdrawal), in one transaction, before it is sent; the job becomes
// replaced. Whichever of the two the chain mines counts (predecessorMined).
func (r *Runner) bump(ctx context.Context, b Bumper, j *Job) error {
	if err := r.inputs(ctx, j); err != nil {
		return err
	}
	nj, err := b.Bump(ctx, j)
	if err == nil {
		if over := overReserve(j, nj.FeeNetwork); over != "" {
			err = errors.New(over)
		}
	}
	if err != nil {
		// at the fee ceiling, dust, or the node failed: wait as long again
		if _, dbErr := r.DB.Exec(ctx, `UPDATE sweeps SET broadcast_at = now(), error = $2, updated_at = now()
			WHERE id = $1 AND state = 'broadcast'`, j.ID, "not bumped: "+err.Error()); dbErr != nil {
			return dbErr
		}
		r.Log.Warn("a stuck sweep could not be bumped; waiting", "id", j.ID, "txid", j.TxID, "err", err)
		return nil
	}
	tx, err := r.DB.Begin(ctx)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	tag, err := tx.Exec(ctx, "UPDATE sweeps SET state = 'replaced', updated_at = now() WHERE id = $1 AND state = 'broadcast'", j.ID)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil // another runner moved it on
	}
	var nonce any
	if nj.Nonce != nil {
		nonce = int64(*nj.Nonce)
	}
	if err := tx.QueryRow(ctx, `INSERT INTO sweeps (chain, currency, merchant_id, kind, state, destination, amount, fee_service,
			fee_address, fee_network, from_address, nonce, raw_tx, txid, replaces, after_sweep)
		VALUES ($1, $2, nullif($3, 0), $4, 'signed', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, nullif($15, 0)) RETURNING id`,
		r.Chain, j.Currency, j.MerchantID, j.Kind, nj.Destination, nj.Amount.String(), nj.FeeService.String(), nj.FeeAddress,
		nj.FeeNetwork.String(), nj.From, nonce, nj.RawTx, nj.TxID, j.ID, j.AfterSweep).Scan(&nj.ID); err != nil {
		return fmt.Errorf("store the replacement of sweep %d: %w", j.ID, err)
	}
	if err := moveJob(ctx, tx, j.ID, nj.ID); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	fault.At("sweep:bumped") // stored, not sent
	r.count(j, StateReplaced)
	r.Log.Info("stuck sweep bumped", "id", j.ID, "txid", j.TxID, "replacement", nj.ID, "new_txid", nj.TxID,
		"network_fee", j.FeeNetwork.String(), "new_network_fee", nj.FeeNetwork.String())
	nj.Chain, nj.Currency, nj.MerchantID, nj.Kind, nj.State, nj.Replaces = r.Chain, j.Currency, j.MerchantID, j.Kind, StateSigned, j.ID
	return r.broadcast(ctx, nj)
}

// moveJob hands a job's deposits and withdrawal to another job (its
// replacement, or back to the job it replaced), the withdrawal bearing the
// other's network fee.
func moveJob(ctx context.Context, tx pgx.Tx, from, to int64) error {
	if _, err := tx.Exec(ctx, "UPDATE deposits SET sweep_id = $2 WHERE sweep_id = $1", from, to); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE withdrawals w SET sweep_id = $2, gas = s.fee_network FROM sweeps s
		WHERE s.id = $2 AND w.sweep_id = $1`, from, to); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// predecessorMined settles a replacement whose inputs are taken: when a
// transaction it replaced was mined after all, that job is followed again
// (to its confirmation, as if never replaced) and takes its deposits or
// withdrawal back; the replacement becomes replaced. False when none was.
func (r *Runner) predecessorMined(ctx context.Context, j *Job) (bool, error) {
	for id := j.Replaces; id != 0; {
		var txid string
		var next int64
		if err := r.DB.QueryRow(ctx, "SELECT txid, coalesce(replaces, 0) FROM sweeps WHERE id = $1", id).Scan(&txid, &next); err != nil {
			return false, fmt.Errorf("ledger: %w", err)
		}
		confs, known, err := r.Impl.Confirmations(ctx, txid)
		if err != nil {
			return false, err
		}
		if !known || confs == 0 {
			id = next
			continue
		}
		tx, err := r.DB.Begin(ctx)
		if err != nil {
			return false, fmt.Errorf("ledger: %w", err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
		tag, err := tx.Exec(ctx, `UPDATE sweeps SET state = 'replaced', error = $2, updated_at = now()
			WHERE id = $1 AND state IN ('signed', 'broadcast')`, j.ID, fmt.Sprintf("sweep %d (%s), which this one replaced, was mined", id, txid))
		if err != nil || tag.RowsAffected() == 0 {
			return false, err
		}
		if _, err := tx.Exec(ctx, "UPDATE sweeps SET state = 'broadcast', error = '', updated_at = now() WHERE id = $1", id); err != nil {
			return false, fmt.Errorf("ledger: %w", err)
		}
		if err := moveJob(ctx, tx, j.ID, id); err != nil {
			return false, err
		}
		if err := tx.Commit(ctx); err != nil {
			return false, fmt.Errorf("ledger: %w", err)
		}
		r.count(j, StateReplaced)
		r.Log.Info("the chain mined a sweep's earlier transaction, not its replacement", "id", id, "txid", txid, "replacement", j.ID)
		return true, nil
	}
	return false, nil
}
