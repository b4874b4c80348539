package lease

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
)

// How it works. The lease of a chain is pg_try_advisory_lock(Key(chain)),
// taken on a connection of its own that lives as long as the leadership.
// Postgres releases the lock when that session ends: at once when the
// process dies (kill -9 included: the kernel closes the socket), and after
// idle_session_timeout (set on the session, ten poll intervals and at least
// 10 s) when the process is cut off or frozen. The active process checks
// its lock every half poll interval; when the check fails it cancels the
// work and stands by, well before the server lets a standby in. A new
// holder also waits one poll interval before it starts, time for a holder
// that lost the lease an instant earlier to notice and stop. Checkpoints
// written under a lease are fenced on the lock (indexer.AdvisoryFence), so
// a writer that lost it cannot move the chain's checkpoint.

// Key is the advisory lock key of a chain's indexer (FNV-1a 64 of
// "sluice-indexer:" and the chain). Advisory locks belong to one database,
// so deployments that share a server but not a database never collide.
func Key(chain string) int64 {
	h := fnv.New64a()
	h.Write([]byte("sluice-indexer:" + chain))
	return int64(h.Sum64())
}

// Metrics of the leases, labelled by chain.
type Metrics struct {
	leader *prometheus.GaugeVec
}

// NewMetrics registers sluice_index_leader with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_index_leader",
		Help: "1 while this process is the chain's active indexer (it holds the chain's lease), 0 while it stands by."},
		[]string{"chain"})}
	if reg != nil {
		reg.MustRegister(m.leader)
	}
	return m
}

// Set records whether this process indexes chain (also without a lease).
func (m *Metrics) Set(chain string, active bool) {
	if m == nil {
		return
	}
	v := 0.0
	if active {
		v = 1
	}
	m.leader.WithLabelValues(chain).Set(v)
}

// Options configure a Lease.
type Options struct {
	DSN   string // the ledger's Postgres
	Chain string
	// Poll is how often a standby tries to take the lease (default 1 s);
	// the holder checks it twice as often.
	Poll    time.Duration
	Log     *slog.Logger
	Metrics *Metrics // may be nil
	// Name is the lease session's application_name, what a standby shows of
	// the holder (default "sluice-indexer host=HOST pid=PID").
	Name string
}

// Lease is one chain's indexer lease as seen from this process.
type Lease struct {
	cfg   *pgx.ConnConfig
	opts  Options
	key   int64
	check time.Duration // the holder's check interval
	limit time.Duration // timeout of each lease query
	idle  time.Duration // the session's idle_session_timeout

	warnOnce sync.Once
}

// New checks the options; nothing is dialled yet.
func New(o Options) (*Lease, error) {
	cfg, err := pgx.ParseConfig(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres DSN is invalid: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	o.Poll = max(o.Poll, 50*time.Millisecond)
	if o.Log == nil {
		o.Log = slog.Default()
	}
	o.Log = o.Log.With("chain", o.Chain)
	if o.Name == "" {
		host, _ := os.Hostname()
		o.Name = fmt.Sprintf("sluice-indexer host=%s pid=%d", host, os.Getpid())
	}
	if len(o.Name) > 63 { // NAMEDATALEN-1: Postgres would cut it anyway
		o.Name = o.Name[:63]
	}
	cfg.RuntimeParams["application_name"] = o.Name
	return &Lease{cfg: cfg, opts: o, key: Key(o.Chain), check: o.Poll / 2, limit: max(o.Poll, time.Second),
		idle: max(10*o.Poll, 10*time.Second)}, nil
}

// Term is one stretch of leadership: the lock and the session holding it,
// what indexer.AdvisoryFence needs.
type Term struct {
	Key int64
	PID uint32
}

// Run stands by until this process holds the lease, then runs work with a
// context that ends when the lease is lost; after a loss it stands by again.
// It returns when ctx ends (nil) or when work returns on its own (work's
// error), releasing the lease.
func (l *Lease) Run(ctx context.Context, work func(ctx context.Context, t Term) error) error {
	l.opts.Metrics.Set(l.opts.Chain, false)
	for {
		conn, err := l.acquire(ctx)
		if err != nil {
			return nil // ctx ended
		}
		lost, err := l.lead(ctx, conn, work)
		if ctx.Err() != nil {
			return nil
		}
		if !lost {
			return err
		}
	}
}

// lead runs work while conn holds the lock, then closes conn (releasing
// the lock). lost reports that the lease, not work, ended the term.
func (l *Lease) lead(ctx context.Context, conn *pgx.Conn, work func(context.Context, Term) error) (lost bool, err error) {
	term := Term{Key: l.key, PID: conn.PgConn().PID()}
	defer closeConn(conn)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lostc := make(chan error, 1)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		t := time.NewTicker(l.check)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
			}
			if err := l.holds(wctx, conn); err != nil {
				if wctx.Err() == nil {
					lostc <- err
					cancel() // stop writing now
				}
				return
			}
		}
	}()
	l.opts.Log.Info("lease taken; indexing starts after the grace period", "grace", l.opts.Poll)
	select {
	case <-wctx.Done():
	case <-time.After(l.opts.Poll):
	}
	if wctx.Err() == nil {
		l.opts.Metrics.Set(l.opts.Chain, true)
		l.opts.Log.Info(fmt.Sprintf("active: this process indexes chain %s", l.opts.Chain), "session_pid", term.PID)
		err = work(wctx, term)
	}
	cancel()
	<-watched
	l.opts.Metrics.Set(l.opts.Chain, false)
	select {
	case lerr := <-lostc:
		l.opts.Log.Warn(fmt.Sprintf("lease lost: stopped indexing chain %s; standing by", l.opts.Chain), "err", lerr)
		return true, nil
	default:
		return false, err
	}
}

// acquire stands by until it holds the lock, on the connection it returns.
func (l *Lease) acquire(ctx context.Context) (*pgx.Conn, error) {
	var conn *pgx.Conn
	var lastHolder string
	var down error // set while Postgres cannot be reached
	for {
		if conn == nil {
			c, err := l.connect(ctx)
			if err != nil && ctx.Err() == nil {
				if down == nil {
					l.opts.Log.Warn("standby: cannot reach Postgres to take the indexer lease; retrying", "err", err, "every", l.opts.Poll)
				}
				down = err
			}
			conn = c
		}
		if conn != nil {
			ok, err := l.try(ctx, conn)
			switch {
			case err != nil:
				closeConn(conn)
				conn = nil
				if ctx.Err() == nil && down == nil {
					l.opts.Log.Warn("standby: the lease query failed; retrying", "err", err, "every", l.opts.Poll)
					down = err
				}
			case ok:
				return conn, nil
			default:
				if down != nil {
					l.opts.Log.Info("standby: Postgres reachable again")
					down = nil
				}
				if h := l.holder(ctx, conn); h != "" && h != lastHolder {
					lastHolder = h
					l.opts.Log.Info(fmt.Sprintf("standby: chain %s is indexed by another process", l.opts.Chain),
						"holder", h, "poll", l.opts.Poll)
				}
			}
		}
		select {
		case <-ctx.Done():
			if conn != nil {
				closeConn(conn)
			}
			return nil, ctx.Err()
		case <-time.After(l.opts.Poll):
		}
	}
}

// connect opens the lease session.
func (l *Lease) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres at %s:%d: %w", l.cfg.Host, l.cfg.Port, err)
	}
	qctx, cancel := context.WithTimeout(ctx, l.limit)
	defer cancel()
	// A holder cut off from Postgres loses the lease after this long (the
	// holder itself notices in a second or two and stops first).
	_, err = conn.Exec(qctx, fmt.Sprintf("SET idle_session_timeout = %d", l.idle.Milliseconds()))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42704" { // undefined_object: Postgres before 14
		l.warnOnce.Do(func() {
			l.opts.Log.Warn("Postgres before 14 has no idle_session_timeout: a holder cut off from Postgres keeps the lease until TCP keepalive ends its session")
		})
		err = nil
	}
	if err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return conn, nil
}

func (l *Lease) try(ctx context.Context, conn *pgx.Conn) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, l.limit)
	defer cancel()
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", l.key).Scan(&ok); err != nil {
		return false, fmt.Errorf("postgres: %w", err)
	}
	return ok, nil
}

// holds checks that conn's session still holds the lock.
func (l *Lease) holds(ctx context.Context, conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, l.limit)
	defer cancel()
	hi, lo := halves(l.key)
	var held bool
	err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND objsubid = 1 AND classid::bigint = $1 AND objid::bigint = $2 AND pid = pg_backend_pid())`, hi, lo).Scan(&held)
	if err != nil {
		return fmt.Errorf("lease check: postgres: %w", err)
	}
	if !held {
		return errors.New("lease check: the lease session no longer holds the lock")
	}
	return nil
}

// holder describes the session holding the lock ("" when none or unknown).
func (l *Lease) holder(ctx context.Context, conn *pgx.Conn) string {
	ctx, cancel := context.WithTimeout(ctx, l.limit)
	defer cancel()
	hi, lo := halves(l.key)
	var (
		pid       int32
		app, addr string
		since     time.Time
	)
	err := conn.QueryRow(ctx, `SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket'),
			coalesce(a.backend_start, now())
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.classid::bigint = $1 AND l.objid::bigint = $2
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		LIMIT 1`, hi, lo).Scan(&pid, &app, &addr, &since)
	if err != nil {
		return ""
	}
	if app == "" {
		app = "a session without application_name"
	}
	return fmt.Sprintf("%s (from %s, Postgres backend %d, connected %s)", app, addr, pid, since.UTC().Format(time.RFC3339))
}

// halves splits a bigint advisory key the way pg_locks shows it: the high
// half in classid, the low half in objid.
func halves(key int64) (hi, lo int64) {
	k := uint64(key)
	return int64(k >> 32), int64(k & 0xffffffff)
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
