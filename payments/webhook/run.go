package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicepay/sluice/chain"
	"github.com/sluicepay/sluice/internal/secrets"
)

// Defaults of Deps (and of the webhooks config section).
const (
	DefaultWorkers = 4
	DefaultTimeout = 10 * time.Second
	DefaultMaxAge  = 72 * time.Hour
)

// Deps is what Run needs. Zero values take the defaults.
type Deps struct {
	DB      *pgxpool.Pool
	Log     *slog.Logger
	Metrics *Metrics      // may be nil
	Allow   Allow         // non-public targets allowed (webhooks.allow_private_targets)
	Workers int           // concurrent requests (default 4); one merchant gets at most half of them
	Timeout time.Duration // per request (default 10s)
	MaxAge  time.Duration // iqpay: retried this long from the delivery's creation (or redelivery), then failed (default 72h)
	Convert Converter     // fiat conversion for iqpay (payments/rates); nil: convert_price and converted_amount are 0
	// BlockDeadAfter: a litepay callback domain failing this long without
	// one *ok* is blocked (default DefaultBlockDeadAfter; receive.block_dead_after).
	BlockDeadAfter time.Duration
	// Secrets decrypts the merchants' webhook secrets (secrets.key_file);
	// nil: only secrets stored in the clear can sign.
	Secrets *secrets.Key
	// Chains says what each currency is (decimals, confirmations, the coin
	// paying its fees); nil knows the built-ins.
	Chains *chain.Registry

	// Tuning; tests shorten them.
	Poll        time.Duration // how often the outbox is looked at when idle (default 250ms)
	Lease       time.Duration // how long a claimed delivery is held (default 2×Timeout+30s)
	BackoffBase time.Duration // iqpay: wait after the first failure, doubling (default 10s)
	BackoffMax  time.Duration // iqpay: longest wait between tries (default 1h)
}

// runner is one process's share of webhook delivery.
type runner struct {
	db                      *pgxpool.Pool
	chains                  *chain.Registry
	log                     *slog.Logger
	m                       *Metrics
	client                  *http.Client
	convert                 Converter
	workers, perMerchant    int
	timeout, maxAge, lease  time.Duration
	poll                    time.Duration
	backoffBase, backoffMax time.Duration
	blockAfter              time.Duration
	secrets                 *secrets.Key

	merchantsSeen int64 // the highest merchant id whose metric series exist

	mu       sync.Mutex // serialises claims, so the per-merchant cap holds
	inflight map[int64]int
	wake     signal
}

func newRunner(d Deps) (*runner, error) {
	if d.DB == nil {
		return nil, errors.New("webhook: no database")
	}
	r := &runner{db: d.DB, chains: d.Chains, log: d.Log, m: d.Metrics, convert: d.Convert, workers: d.Workers, timeout: d.Timeout,
		maxAge: d.MaxAge, lease: d.Lease, poll: d.Poll, backoffBase: d.BackoffBase, backoffMax: d.BackoffMax,
		blockAfter: d.BlockDeadAfter, secrets: d.Secrets, inflight: map[int64]int{}}
	if r.blockAfter <= 0 {
		r.blockAfter = DefaultBlockDeadAfter
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.workers <= 0 {
		r.workers = DefaultWorkers
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.maxAge <= 0 {
		r.maxAge = DefaultMaxAge
	}
	if r.lease <= 0 {
		r.lease = 2*r.timeout + 30*time.Second
	}
	if r.poll <= 0 {
		r.poll = 250 * time.Millisecond
	}
	if r.backoffBase <= 0 {
		r.backoffBase = 10 * time.Second
	}
	if r.backoffMax <= 0 {
		r.backoffMax = time.Hour
	}
	r.perMerchant = max(1, r.workers/2)
	r.client = newClient(d.Allow, r.timeout)
	r.wake.ch = make(chan struct{})
	return r, nil
}

// Run delivers webhooks until ctx ends: it fans new outbox events out into
// deliveries, makes litepay callbacks due again at each new block, and runs
// d.Workers senders. Any number of processes may run it against one
// ledger. Postgres errors are logged and retried with backoff; Run returns
// only when ctx ends (nil) or d is unusable.
func Run(ctx context.Context, d Deps) error {
	r, err := newRunner(d)
	if err != nil {
		return err
	}
	r.log.Info("delivering webhooks", "workers", r.workers, "timeout", r.timeout, "max_age", r.maxAge)
	var wg sync.WaitGroup
	wg.Go(func() { r.outboxLoop(ctx) })
	for range r.workers {
		wg.Go(func() { r.workerLoop(ctx) })
	}
	wg.Wait()
	r.client.CloseIdleConnections()
	return nil
}

// gaugeEvery is how often the backlog gauges are read.
const gaugeEvery = 5 * time.Second

// outboxLoop fans events out, re-arms litepay callbacks and reads the gauges.
func (r *runner) outboxLoop(ctx context.Context) {
	retry := time.Second
	var gauged, tips time.Time
	for ctx.Err() == nil {
		n, err := fanOut(ctx, r.db)
		var k int64
		if err == nil {
			var latest time.Time
			if latest, err = tipsChanged(ctx, r.db); err == nil && latest.After(tips) {
				if k, err = rearmLitepay(ctx, r.db); err == nil {
					tips = latest
				}
			}
		}
		if n > 0 || k > 0 {
			r.wake.broadcast()
		}
		if err == nil && r.m != nil && time.Since(gauged) >= gaugeEvery {
			var backlogN int64
			var oldest time.Duration
			if backlogN, oldest, err = backlog(ctx, r.db); err == nil {
				r.m.Backlog.Set(float64(backlogN))
				r.m.Oldest.Set(oldest.Seconds())
				err = r.addMerchants(ctx)
				gauged = time.Now()
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("webhook outbox: database error; retrying", "err", err, "retry_in", retry)
			sleep(ctx, retry)
			retry = min(2*retry, 30*time.Second)
			continue
		}
		retry = time.Second
		if n == fanOutBatch {
			continue // more waiting
		}
		sleep(ctx, r.poll)
	}
}

// addMerchants creates the delivery series of merchants added since the
// last look, so a new merchant's first failures show in rate() too.
func (r *runner) addMerchants(ctx context.Context) error {
	rows, err := r.db.Query(ctx, "SELECT id FROM merchants WHERE id > $1 ORDER BY id", r.merchantsSeen)
	if err != nil {
		return fmt.Errorf("webhook metrics: merchants: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("webhook metrics: merchants: %w", err)
		}
		r.m.addMerchant(id)
		r.merchantsSeen = id
	}
	return rows.Err()
}

// workerLoop claims and sends deliveries one at a time.
func (r *runner) workerLoop(ctx context.Context) {
	retry := time.Second
	for ctx.Err() == nil {
		woken := r.wake.wait() // before the claim, so a wake-up during it is not lost
		j, err := r.claim(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("webhook claim: database error; retrying", "err", err, "retry_in", retry)
			sleep(ctx, retry)
			retry = min(2*retry, 30*time.Second)
			continue
		}
		retry = time.Second
		if j == nil {
			// Idle: new deliveries wake us; retries falling due are found by this poll.
			t := time.NewTimer(4 * r.poll)
			select {
			case <-ctx.Done():
			case <-woken:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		r.deliver(ctx, j)
		r.wake.broadcast() // the next event of that deposit may be free now
	}
}

// signal wakes every waiting worker at once.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *signal) broadcast() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.ch)
	s.ch = make(chan struct{})
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
