package rates

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Defaults of Options (and of the rates config section).
const (
	DefaultMaxAge    = 10 * time.Minute
	DefaultRefresh   = time.Minute
	DefaultKeyPrefix = "sluice:rates:"
)

// DB is the ledger, for valuing deposits: a *pgxpool.Pool or a pgx.Tx.
type DB interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Options configure a Service. Zero values take the defaults.
type Options struct {
	Redis redis.Cmdable // the cache, shared by every process
	// Assets are the currencies to price (AssetsOf the chain registry's):
	// each is priced by its rate id, in every fiat currency, by the sources
	// that know that rate id.
	Assets []Asset
	// DB, when set, lets Convert fix each deposit's rate in its ledger row
	// (ValueDeposit); without it Convert uses the current price.
	DB      DB
	Sources []Source      // asked in this order; the first to price a pair wins
	MaxAge  time.Duration // a price older than this is never used (default 10m)
	Refresh time.Duration // Run fetches prices older than this (default 1m)
	// KeyPrefix starts every Redis key (default "sluice:rates:").
	KeyPrefix string
	Log       *slog.Logger
	Metrics   *Metrics // may be nil
}

// Service is the cached price of every pair: see Price. It is safe for
// concurrent use, and any number of processes may share one Redis.
type Service struct {
	o   Options
	log *slog.Logger
	now func() time.Time

	// retryEvery spaces out on-demand fetches of a pair that no source
	// priced, so callers in a loop do not hammer the APIs.
	retryEvery time.Duration

	fetchMu sync.Mutex // one fetch at a time per process

	assets map[string]Asset // by code
	pairs  []Pair           // what the sources know of the assets' rate ids, in every fiat

	mu       sync.Mutex
	limited  map[string]time.Time // source -> rate-limited until
	failedAt map[Pair]time.Time   // last on-demand fetch that priced nothing
	local    map[Pair]Rate        // this process's own fetches, for when Redis does not answer
}

// New makes a Service. It fetches nothing yet: Run keeps the cache fresh,
// Price fetches on demand what is missing or stale.
func New(o Options) (*Service, error) {
	if o.Redis == nil {
		return nil, errors.New("rates: no Redis")
	}
	if err := checkAssets(o.Assets); err != nil {
		return nil, err
	}
	o.Assets = slices.Clone(o.Assets)
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Service{o: o, log: log, now: time.Now, retryEvery: 10 * time.Second, assets: map[string]Asset{},
		limited: map[string]time.Time{}, failedAt: map[Pair]time.Time{}, local: map[Pair]Rate{}}
	for _, a := range o.Assets {
		s.assets[a.Code] = a
		for _, f := range Fiats {
			p := Pair{a.RateID, f}
			if !slices.Contains(s.pairs, p) && s.known(p) {
				s.pairs = append(s.pairs, p)
			}
		}
	}
	return s, nil
}

// known says whether a source of the service knows p.
func (s *Service) known(p Pair) bool {
	return slices.ContainsFunc(s.o.Sources, func(src Source) bool { return src.Knows(p) })
}

// Assets lists the currencies the service was given, in their order.
func (s *Service) Assets() []Asset { return slices.Clone(s.o.Assets) }

// Pairs lists the pairs the service keeps fresh: the rate id of each of
// its currencies that one of its sources knows, in every fiat currency.
func (s *Service) Pairs() []Pair { return slices.Clone(s.pairs) }

// Unpriced lists the codes of the currencies none of the sources knows, in
// some fiat currency: their conversions are 0 and their minimums wait.
func (s *Service) Unpriced() []string {
	var out []string
	for _, a := range s.o.Assets {
		for _, f := range Fiats {
			if !s.known(Pair{a.RateID, f}) {
				out = append(out, a.Code)
				break
			}
		}
	}
	return out
}

// pair is the pair that prices currency code in fiat, and the currency.
// A currency or fiat the service does not price is an error that says so
// (not ErrNoRate: waiting will not help, the configuration must change).
func (s *Service) pair(code, fiat string) (Pair, Asset, error) {
	a, ok := s.assets[code]
	if !ok {
		codes := make([]string, len(s.o.Assets))
		for i, x := range s.o.Assets {
			codes[i] = x.Code
		}
		return Pair{}, Asset{}, fmt.Errorf("rates: currency %q is not one sluice prices here (configured: %s)", code, strings.Join(codes, ", "))
	}
	if !slices.Contains(Fiats, fiat) {
		return Pair{}, Asset{}, fmt.Errorf("rates: fiat currency %q is not one of %s", fiat, strings.Join(Fiats, ", "))
	}
	p := Pair{a.RateID, fiat}
	if len(s.o.Sources) > 0 && !s.known(p) {
		names := make([]string, len(s.o.Sources))
		for i, src := range s.o.Sources {
			names[i] = src.Name()
		}
		return Pair{}, Asset{}, fmt.Errorf("rates: %s (rate id %s) in %s: none of the sources in rates.sources (%s) prices it",
			code, a.RateID, fiat, strings.Join(names, ", "))
	}
	return p, a, nil
}

// MaxAge is the staleness limit.
func (s *Service) MaxAge() time.Duration { return s.o.MaxAge }

// Price is the price of one whole coin of a configured currency (by its
// code: BTC, USDC) in fiat (USD, EUR), the price of its rate id: the cached
// one while it is younger than MaxAge, else fetched now from the sources in
// order (and cached). When none answers it returns an error wrapping
// ErrNoRate: a stale price is never returned.
func (s *Service) Price(ctx context.Context, currency, fiat string) (Rate, error) {
	p, _, err := s.pair(currency, fiat)
	if err != nil {
		return Rate{}, err
	}
	return s.price(ctx, p)
}

func (s *Service) price(ctx context.Context, p Pair) (Rate, error) {
	r, ok, err := s.cached(ctx, p)
	if err != nil {
		// Redis down: this process's own last fetch, else the sources
		s.mu.Lock()
		r, ok = s.local[p]
		s.mu.Unlock()
		if !ok || !s.fresh(r) {
			s.log.Warn("reading the rate cache failed; asking the sources", "pair", p.String(), "err", err)
		}
	}
	if ok && s.fresh(r) {
		return r, nil
	}
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	// another caller may have fetched it while this one waited
	if r2, ok2, err := s.cached(ctx, p); err == nil && ok2 {
		r, ok = r2, true
	} else if err != nil {
		s.mu.Lock()
		r2, ok2 = s.local[p]
		s.mu.Unlock()
		if ok2 {
			r, ok = r2, true
		}
	}
	if ok && s.fresh(r) {
		return r, nil
	}
	s.mu.Lock()
	recent := s.now().Sub(s.failedAt[p]) < s.retryEvery
	s.mu.Unlock()
	var fetchErr error
	if !recent {
		var got map[Pair]Rate
		got, fetchErr = s.fetch(ctx, []Pair{p})
		if g, ok := got[p]; ok {
			return g, nil
		}
		s.mu.Lock()
		s.failedAt[p] = s.now()
		s.mu.Unlock()
	} else {
		fetchErr = fmt.Errorf("no source priced it less than %s ago", s.retryEvery)
	}
	had := "none is cached"
	if ok {
		had = fmt.Sprintf("the cached one (%s, %s) is %s old, more than rates.max_age %s",
			r.Price, r.Source, s.now().Sub(r.At).Round(time.Second), s.o.MaxAge)
	}
	return Rate{}, fmt.Errorf("%w for %s: %s; %v", ErrNoRate, p, had, fetchErr)
}

func (s *Service) fresh(r Rate) bool { return s.now().Sub(r.At) <= s.o.MaxAge }

// Refresh fetches every pair now and caches what the sources give. The
// error names the pairs no source priced.
func (s *Service) Refresh(ctx context.Context) error {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	_, err := s.fetch(ctx, s.pairs)
	return err
}

// Run keeps the cache fresh until ctx ends: every Refresh interval it
// fetches the pairs whose cached price is that old (another process sharing
// the cache may have fetched them already), and it keeps
// sluice_rate_age_seconds current. It returns nil when ctx ends.
func (s *Service) Run(ctx context.Context) error {
	names := make([]string, len(s.o.Sources))
	for i, src := range s.o.Sources {
		names[i] = src.Name()
	}
	var priced []string
	for _, p := range s.pairs {
		if !slices.Contains(priced, p.RateID) {
			priced = append(priced, p.RateID)
		}
	}
	s.log.Info("fiat rates", "sources", names, "rate_ids", priced, "refresh", s.o.Refresh, "max_age", s.o.MaxAge)
	if un := s.Unpriced(); len(un) > 0 && len(names) > 0 {
		s.log.Warn("no source in rates.sources prices these currencies in every fiat currency: their conversions are 0", "currencies", un)
	}
	if s.o.Metrics != nil {
		s.o.Metrics.MaxAge.Set(s.o.MaxAge.Seconds())
	}
	refresh := time.NewTicker(s.o.Refresh)
	defer refresh.Stop()
	ages := time.NewTicker(5 * time.Second)
	defer ages.Stop()
	for {
		s.refreshDue(ctx)
		s.observeAges(ctx)
		for again := false; !again; {
			select {
			case <-ctx.Done():
				return nil
			case <-ages.C:
				s.observeAges(ctx)
			case <-refresh.C:
				again = true
			}
		}
	}
}

// refreshDue fetches the pairs whose cached price is older than the refresh
// interval (less a tenth, so a price fetched by another process a moment
// early still counts).
func (s *Service) refreshDue(ctx context.Context) {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	cached, err := s.cachedAll(ctx)
	if err != nil {
		s.log.Warn("reading the rate cache failed", "err", err)
	}
	var due []Pair
	for _, p := range s.pairs {
		r, ok := cached[p]
		if !ok || s.now().Sub(r.At) >= s.o.Refresh-s.o.Refresh/10 {
			due = append(due, p)
		}
	}
	if len(due) == 0 {
		return
	}
	if _, err := s.fetch(ctx, due); err != nil && ctx.Err() == nil {
		s.log.Warn("fetching fiat rates", "err", err)
	}
}

// observeAges sets sluice_rate_age_seconds from the cache.
func (s *Service) observeAges(ctx context.Context) {
	if s.o.Metrics == nil {
		return
	}
	cached, err := s.cachedAll(ctx)
	if err != nil {
		return // unknown is not +Inf: leave the last values
	}
	for _, p := range s.pairs {
		age := math.Inf(1)
		if r, ok := cached[p]; ok {
			age = max(0, s.now().Sub(r.At).Seconds())
		}
		s.o.Metrics.Age.WithLabelValues(p.RateID, p.Fiat).Set(age)
	}
}

// fetch asks the sources in order for pairs, each source for those the
// earlier ones did not price, and caches every price it gets. The error
// says, when some pair is left without a price, what each source answered.
// Callers hold fetchMu.
func (s *Service) fetch(ctx context.Context, pairs []Pair) (map[Pair]Rate, error) {
	got := map[Pair]Rate{}
	left := pairs
	var errs []error
	if len(s.o.Sources) == 0 {
		errs = append(errs, errors.New("no sources configured (rates.sources)"))
	}
	for _, src := range s.o.Sources {
		if len(left) == 0 {
			break
		}
		name := src.Name()
		s.mu.Lock()
		until := s.limited[name]
		s.mu.Unlock()
		if s.now().Before(until) {
			s.count(name, ResultRateLimited, len(left))
			errs = append(errs, fmt.Errorf("%s: rate limited until %s", name, until.Format(time.TimeOnly)))
			continue
		}
		var ask, unknown []Pair
		for _, p := range left {
			if src.Knows(p) {
				ask = append(ask, p)
			} else {
				unknown = append(unknown, p)
			}
		}
		if len(ask) == 0 {
			continue
		}
		prices, err := src.Prices(ctx, ask)
		at := s.now()
		if err != nil {
			var he *HTTPError
			if errors.As(err, &he) && he.Status == 429 {
				wait := he.RetryAfter
				if wait <= 0 {
					wait = s.o.Refresh
				}
				s.mu.Lock()
				s.limited[name] = at.Add(wait)
				s.mu.Unlock()
			}
			errs = append(errs, err)
		}
		rest := unknown
		for _, p := range ask {
			price, ok := prices[p]
			if !ok {
				rest = append(rest, p)
				s.count(name, ResultError, 1)
				continue
			}
			s.count(name, ResultOK, 1)
			r := Rate{Price: price, Source: name, At: at.Truncate(time.Millisecond)} // as the cache keeps it
			got[p] = r
			s.mu.Lock()
			s.local[p] = r
			s.mu.Unlock()
			if err := s.store(ctx, p, r); err != nil {
				s.log.Warn("caching a fiat rate failed", "pair", p.String(), "err", err)
			}
		}
		if missing := len(rest) - len(unknown); missing > 0 && err == nil {
			errs = append(errs, fmt.Errorf("%s: no price for %v in the answer", name, rest[len(unknown):]))
		}
		left = rest
	}
	if len(left) == 0 {
		return got, nil
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("no source knows them"))
	}
	return got, fmt.Errorf("no source priced %v: %w", left, joinErrors(errs...))
}

func (s *Service) count(source, result string, n int) {
	if s.o.Metrics != nil {
		s.o.Metrics.Fetches.WithLabelValues(source, result).Add(float64(n))
	}
}

// The cache: one hash per pair, sluice:rates:price:BTC:USD with the fields
// price (exact decimal), source and at (Unix milliseconds of the fetch).
// A write never replaces a younger price (two processes fetching at once).
// Keys expire after cacheTTL; a price older than MaxAge stays only to be
// shown (sluice rates, the age gauge), never used.

const cacheTTL = 7 * 24 * time.Hour

var storeScript = redis.NewScript(`
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or '0')
if at and at >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'price', ARGV[1], 'source', ARGV[2], 'at', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`)

func (s *Service) key(p Pair) string { return s.o.KeyPrefix + "price:" + p.RateID + ":" + p.Fiat }

func (s *Service) store(ctx context.Context, p Pair, r Rate) error {
	return storeScript.Run(ctx, s.o.Redis, []string{s.key(p)}, r.Price, r.Source, r.At.UnixMilli(), cacheTTL.Milliseconds()).Err()
}

// Cached is the price of a currency (by its code) in the cache, however old
// (ok false when there is none): for display. Use Price for money.
func (s *Service) Cached(ctx context.Context, currency, fiat string) (Rate, bool, error) {
	p, _, err := s.pair(currency, fiat)
	if err != nil {
		return Rate{}, false, err
	}
	return s.cached(ctx, p)
}

func (s *Service) cached(ctx context.Context, p Pair) (Rate, bool, error) {
	m, err := s.o.Redis.HGetAll(ctx, s.key(p)).Result()
	if err != nil {
		return Rate{}, false, fmt.Errorf("rates: read %s: %w", s.key(p), err)
	}
	return decodeCached(m)
}

func (s *Service) cachedAll(ctx context.Context) (map[Pair]Rate, error) {
	pairs := s.pairs
	cmds := make([]*redis.MapStringStringCmd, len(pairs))
	_, err := s.o.Redis.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i, p := range pairs {
			cmds[i] = pl.HGetAll(ctx, s.key(p))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rates: read the cache: %w", err)
	}
	out := map[Pair]Rate{}
	for i, p := range pairs {
		if r, ok, err := decodeCached(cmds[i].Val()); err == nil && ok {
			out[p] = r
		}
	}
	return out, nil
}

func decodeCached(m map[string]string) (Rate, bool, error) {
	if len(m) == 0 {
		return Rate{}, false, nil
	}
	ms, err := strconv.ParseInt(m["at"], 10, 64)
	if err != nil {
		return Rate{}, false, fmt.Errorf("rates: cached entry has no valid time: %q", m["at"])
	}
	price, err := parsePrice(m["price"])
	if err != nil {
		return Rate{}, false, fmt.Errorf("rates: cached entry: %w", err)
	}
	return Rate{Price: price, Source: m["source"], At: time.UnixMilli(ms)}, true, nil
}
