package watch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrLayoutMismatch is returned (wrapped in a *LayoutError) when Redis holds a
// bitmap built with another layout than the caller's Config asks for.
var ErrLayoutMismatch = errors.New("bloom layout mismatch")

// LayoutError says which layouts differ and what to do.
type LayoutError struct {
	Chain, InRedis, Ours string
	Rebuilding           bool // a rebuild to InRedis is running
}

func (e *LayoutError) Error() string {
	if e.Rebuilding {
		return fmt.Sprintf("watch %s: a rebuild to the bloom layout %q is running and this process uses %q: retry after it, with the same config", e.Chain, e.InRedis, e.Ours)
	}
	return fmt.Sprintf("watch %s: the bloom bitmap in Redis has layout %q but this process is configured for %q: "+
		"use the same expected addresses and FP rate in every process, or open once with RebuildOnMismatch to rebuild it", e.Chain, e.InRedis, e.Ours)
}

func (e *LayoutError) Unwrap() error { return ErrLayoutMismatch }

// Set is the watched addresses of one chain. It is safe for concurrent use
// and by many processes at once.
type Set struct {
	rdb                  redis.UniversalClient
	chain                string
	cfg                  Config
	layout               Layout
	id                   string // layout.String()
	params, bloom, addrs string
	sentinel             string
	m                    *metrics
	win                  *window
}

// Open opens the set of chain ("btc", "ltc", "eth", ...), recording cfg's
// layout in Redis when there is none, and refusing with a *LayoutError when
// Redis holds a different one (or rebuilding, with cfg.RebuildOnMismatch).
func Open(ctx context.Context, rdb redis.UniversalClient, chain string, cfg Config) (*Set, error) {
	if !chainRe.MatchString(chain) {
		return nil, fmt.Errorf("watch: open: chain id %q is not a short lower-case name like btc, ltc or eth", chain)
	}
	cfg = cfg.withDefaults()
	l, err := LayoutFor(cfg.Expected, cfg.FPRate)
	if err != nil {
		return nil, fmt.Errorf("watch %s: open: %w", chain, err)
	}
	if cfg.FPWindow < 0 || cfg.ChunkSize < 0 || cfg.ChunkSize > 5000 {
		return nil, fmt.Errorf("watch %s: open: FPWindow must be positive and ChunkSize between 1 and 5000", chain)
	}
	tag := "watch:{" + chain + "}:"
	s := &Set{rdb: rdb, chain: chain, cfg: cfg, layout: l, id: l.String(),
		params: tag + "params", bloom: tag + "bloom", addrs: tag + "addrs", sentinel: tag + "sentinel",
		m: newMetrics(chain, l, cfg.FPRate), win: newWindow(cfg.FPWindow, cfg.FPRate)}
	if err := s.loadScripts(ctx); err != nil {
		return nil, s.errf("open", err)
	}
	set, err := rdb.HSetNX(ctx, s.params, "layout", s.id).Result()
	if err != nil {
		return nil, s.errf("open", err)
	}
	if set {
		if err := rdb.HSet(ctx, s.params, s.info()...).Err(); err != nil {
			return nil, s.errf("open", err)
		}
	} else {
		cur, err := rdb.HGet(ctx, s.params, "layout").Result()
		if err != nil && !errors.Is(err, redis.Nil) { // redis.Nil: flushed in between; Add sets it again
			return nil, s.errf("open", err)
		}
		if err == nil && cur != s.id {
			if !cfg.RebuildOnMismatch {
				return nil, &LayoutError{Chain: chain, InRedis: cur, Ours: s.id}
			}
			if err := s.rebuildFromSelf(ctx); err != nil {
				return nil, fmt.Errorf("watch %s: open: rebuild from layout %q: %w", chain, cur, err)
			}
		}
	}
	if err := s.m.register(cfg.Registerer); err != nil {
		return nil, s.errf("open", err)
	}
	return s, nil
}

// Chain is the chain id the set was opened for.
func (s *Set) Chain() string { return s.chain }

// Size counts the exact set's members (SCARD) and sets
// sluice_watch_addresses to it.
func (s *Set) Size(ctx context.Context) (int64, error) {
	n, err := s.rdb.SCard(ctx, s.addrs).Result()
	if err != nil {
		return 0, s.errf("size", err)
	}
	s.m.addresses.Set(float64(n))
	return n, nil
}

// Layout is the bitmap's layout (m, k).
func (s *Set) Layout() Layout { return s.layout }

// Stats returns the counts of Match calls since Open and the observed FP rate.
func (s *Set) Stats() Stats { return s.win.stats() }

// Close unregisters the metrics.
func (s *Set) Close() {
	if s.cfg.Registerer != nil {
		for _, c := range s.m.all {
			s.cfg.Registerer.Unregister(c)
		}
	}
}

func (s *Set) info() []any {
	return []any{"m", s.layout.Bits, "k", s.layout.Hashes, "hash", hashName,
		"expected", s.cfg.Expected, "fp_rate", strconv.FormatFloat(s.cfg.FPRate, 'g', -1, 64)}
}

func (s *Set) errf(op string, err error) error {
	var le *LayoutError
	if errors.As(err, &le) {
		return err
	}
	return fmt.Errorf("watch %s: %s: %w", s.chain, op, err)
}

// scriptErr turns the scripts' coded error replies into Go errors.
func (s *Set) scriptErr(err error) error {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "LAYOUT "):
		return &LayoutError{Chain: s.chain, InRedis: strings.TrimPrefix(msg, "LAYOUT "), Ours: s.id}
	case strings.HasPrefix(msg, "REBUILDING "):
		return &LayoutError{Chain: s.chain, InRedis: strings.TrimPrefix(msg, "REBUILDING "), Ours: s.id, Rebuilding: true}
	}
	return err
}

func (s *Set) loadScripts(ctx context.Context) error {
	pipe := s.rdb.Pipeline()
	for _, sc := range allScripts {
		pipe.ScriptLoad(ctx, sc.src)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// exec runs the commands fill adds to a pipeline in one round trip, loading
// the scripts and retrying once when Redis lost them (restart, SCRIPT FLUSH).
func (s *Set) exec(ctx context.Context, fill func(redis.Pipeliner)) error {
	for attempt := 0; ; attempt++ {
		pipe := s.rdb.Pipeline()
		fill(pipe)
		_, err := pipe.Exec(ctx)
		if err != nil && attempt == 0 && strings.Contains(err.Error(), "NOSCRIPT") {
			if err := s.loadScripts(ctx); err != nil {
				return err
			}
			continue
		}
		return err
	}
}

// prepare normalizes and deduplicates addrs, keeping the first occurrence's
// order; empty strings are dropped (or refused, when strict).
func (s *Set) prepare(addrs []string, strict bool) ([]string, error) {
	seen := make(map[string]struct{}, len(addrs))
	out := make([]string, 0, len(addrs))
	for i, a := range addrs {
		if a == "" {
			if strict {
				return nil, fmt.Errorf("address %d of %d is empty", i+1, len(addrs))
			}
			continue
		}
		a = normalize(s.chain, a)
		if _, dup := seen[a]; dup {
			continue
		}
		seen[a] = struct{}{}
		out = append(out, a)
	}
	return out, nil
}

// chunks yields successive groups of up to n script calls' worth of addresses.
func chunks(addrs []string, per, calls int) iter.Seq[[]string] {
	return func(yield func([]string) bool) {
		step := per * calls
		for i := 0; i < len(addrs); i += step {
			if !yield(addrs[i:min(i+step, len(addrs))]) {
				return
			}
		}
	}
}

func stringArgs(head []any, addrs []string) []any {
	args := append(make([]any, 0, len(head)+len(addrs)), head...)
	for _, a := range addrs {
		args = append(args, a)
	}
	return args
}

// Add watches addrs: sets their k bits and adds them to the exact set, in
// pipelined script calls of ChunkSize addresses. Idempotent. An empty address
// is refused before anything is written.
func (s *Set) Add(ctx context.Context, addrs ...string) error {
	uniq, err := s.prepare(addrs, true)
	if err != nil {
		return s.errf("add", err)
	}
	per := s.cfg.ChunkSize
	for group := range chunks(uniq, per, maxCommands) {
		var cmds []*redis.Cmd
		err := s.exec(ctx, func(p redis.Pipeliner) {
			cmds = cmds[:0]
			for i := 0; i < len(group); i += per {
				part := group[i:min(i+per, len(group))]
				head := []any{s.id, s.layout.Bits, s.layout.Hashes, s.layout.pack(nil, part)}
				cmds = append(cmds, addScript.evalSha(ctx, p, []string{s.params, s.bloom, s.addrs}, stringArgs(head, part)...))
			}
		})
		if err != nil {
			return s.errf("add", s.scriptErr(err))
		}
		if n, err := cmds[len(cmds)-1].Int64(); err == nil {
			s.m.addresses.Set(float64(n))
		}
	}
	return nil
}

// Match returns the addresses of addrs that are watched, normalized,
// deduplicated, in input order. Round trip one runs the bloom probes of all
// candidates (ChunkSize addresses per script call, pipelined); round trip two,
// only when the bloom passed some, asks the exact set (SMISMEMBER) about those.
// Redis without a bloom (flushed) gives no matches and no error: the ledger's
// reconciler notices with Verify and rebuilds.
func (s *Set) Match(ctx context.Context, addrs []string) ([]string, error) {
	start := time.Now()
	cand, _ := s.prepare(addrs, false)
	if len(cand) == 0 {
		return nil, nil
	}
	var hits []string
	var missing bool
	var card int64 = -1
	per := s.cfg.ChunkSize
	seeds := make([]byte, 0, 8*min(len(cand), per*maxCommands))
	for group := range chunks(cand, per, maxCommands-1) {
		var cmds []*redis.Cmd
		var scard *redis.IntCmd
		err := s.exec(ctx, func(p redis.Pipeliner) {
			cmds = cmds[:0]
			seeds = s.layout.pack(seeds[:0], group)
			for i := 0; i < len(group); i += per {
				j := min(i+per, len(group))
				cmds = append(cmds, matchScript.evalSha(ctx, p, []string{s.params, s.bloom}, s.id, s.layout.Bits, s.layout.Hashes, seeds[8*i:8*j]))
			}
			scard = p.SCard(ctx, s.addrs)
		})
		if err != nil {
			return nil, s.errf("match", s.scriptErr(err))
		}
		card = scard.Val()
		for c, cmd := range cmds {
			res, err := cmd.Int64Slice()
			if err != nil || len(res) == 0 {
				return nil, s.errf("match", fmt.Errorf("unexpected script reply %v: %w", cmd.Val(), err))
			}
			if res[0] == 1 {
				missing = true
				continue
			}
			for _, i := range res[1:] {
				hits = append(hits, group[c*per+int(i)])
			}
		}
	}
	if card >= 0 {
		s.m.addresses.Set(float64(card))
	}
	if missing {
		s.m.missing.Inc()
	}
	var out []string
	if len(hits) > 0 {
		var err error
		if out, err = s.members(ctx, hits); err != nil {
			return nil, s.errf("match", err)
		}
	}
	s.observe(int64(len(cand)), int64(len(hits)), int64(len(out)))
	s.m.duration.Observe(time.Since(start).Seconds())
	return out, nil
}

func (s *Set) observe(cand, hits, matches int64) {
	s.m.candidates.Add(float64(cand))
	s.m.hits.Add(float64(hits))
	s.m.matches.Add(float64(matches))
	rate, alarm := s.win.add(cand, hits, matches)
	s.m.fpRate.Set(rate)
	if alarm {
		s.m.alarm.Set(1)
	} else {
		s.m.alarm.Set(0)
	}
}

// members returns the addrs (distinct, normalized) that are in the exact
// set, in order, with SMISMEMBER in pipelines of at most maxCommands*1000.
func (s *Set) members(ctx context.Context, addrs []string) ([]string, error) {
	const per = 1000
	var out []string
	for group := range chunks(addrs, per, maxCommands) {
		var cmds []*redis.BoolSliceCmd
		err := s.exec(ctx, func(p redis.Pipeliner) {
			cmds = cmds[:0]
			for i := 0; i < len(group); i += per {
				cmds = append(cmds, p.SMIsMember(ctx, s.addrs, stringArgs(nil, group[i:min(i+per, len(group))])...))
			}
		})
		if err != nil {
			return nil, err
		}
		for c, cmd := range cmds {
			for i, ok := range cmd.Val() {
				if ok {
					out = append(out, group[c*per+i])
				}
			}
		}
	}
	return out, nil
}

// Rebuild replaces the set with the addresses addrs yields (the ledger's list):
// it builds a new bitmap and exact set under temporary keys and renames both
// over the live ones in one atomic step, so readers see the old set or the new
// one, never a half-built filter. Adds that run during the rebuild go to both.
// It also (re)writes this Set's layout. One rebuild per chain at a time.
func (s *Set) Rebuild(ctx context.Context, addrs iter.Seq[string]) (err error) {
	tok := make([]byte, 8)
	_, _ = rand.Read(tok)
	token := hex.EncodeToString(tok)
	keys := []string{s.params, s.bloom, s.addrs}
	tb, ts := s.bloom+":tmp:"+token, s.addrs+":tmp:"+token
	ttl := rebuildTTL.Milliseconds()
	if err := s.exec(ctx, func(p redis.Pipeliner) {
		beginScript.evalSha(ctx, p, keys, token, s.id, s.layout.Bits, ttl)
	}); err != nil {
		if strings.HasPrefix(err.Error(), "BUSY ") {
			return s.errf("rebuild", fmt.Errorf("another rebuild (%s) is running; retry when it ends (its keys expire %v after its last write if it died)", strings.TrimPrefix(err.Error(), "BUSY "), rebuildTTL))
		}
		return s.errf("rebuild", err)
	}
	defer func() {
		if err != nil {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = s.exec(ctx, func(p redis.Pipeliner) { abortScript.evalSha(ctx, p, keys, token) })
		}
	}()
	per := s.cfg.ChunkSize
	batch := make([]string, 0, per*100)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		uniq, _ := s.prepare(batch, false)
		batch = batch[:0]
		return s.exec(ctx, func(p redis.Pipeliner) {
			for i := 0; i < len(uniq); i += per {
				part := uniq[i:min(i+per, len(uniq))]
				head := []any{s.layout.Bits, s.layout.Hashes, s.layout.pack(nil, part)}
				fillScript.evalSha(ctx, p, []string{tb, ts}, stringArgs(head, part)...)
			}
			p.PExpire(ctx, tb, rebuildTTL)
			p.PExpire(ctx, ts, rebuildTTL)
		})
	}
	for a := range addrs {
		if a == "" {
			continue
		}
		if batch = append(batch, a); len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return s.errf("rebuild", err)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return s.errf("rebuild", err)
	}
	if err := flush(); err != nil {
		return s.errf("rebuild", err)
	}
	var cmd *redis.Cmd
	if err := s.exec(ctx, func(p redis.Pipeliner) {
		cmd = commitScript.evalSha(ctx, p, append(keys, s.sentinel), append([]any{token, s.id, time.Now().Unix()}, s.info()...)...)
	}); err != nil {
		return s.errf("rebuild", fmt.Errorf("commit: %w", err))
	}
	if n, err := cmd.Int64(); err == nil {
		s.m.addresses.Set(float64(n))
	}
	return nil
}

// rebuildFromSelf rebuilds the bitmap with this Set's layout from the live
// exact set (SSCAN); a failing scan cancels the rebuild rather than commit a
// partial set.
func (s *Set) rebuildFromSelf(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	err := s.Rebuild(ctx, func(yield func(string) bool) {
		it := s.rdb.SScan(ctx, s.addrs, 0, "", 10_000).Iterator()
		for it.Next(ctx) {
			if !yield(it.Val()) {
				return
			}
		}
		if err := it.Err(); err != nil {
			cancel(fmt.Errorf("scan %s: %w", s.addrs, err))
		}
	})
	if cause := context.Cause(ctx); err != nil && cause != nil && cause != context.Canceled {
		return cause
	}
	return err
}

// Verify compares the exact set with want, the ledger's list (each address
// once): missing counts addresses of want that are not in the set, extra the
// members of the set that want does not have. After a FLUSHALL everything is
// missing. The caller rebuilds when either is non-zero.
func (s *Set) Verify(ctx context.Context, want iter.Seq[string]) (missing, extra int, err error) {
	const per = 1000
	var present, total int
	batch := make([]string, 0, per*100)
	flush := func() error {
		uniq, _ := s.prepare(batch, false)
		batch = batch[:0]
		found, err := s.members(ctx, uniq)
		if err != nil {
			return err
		}
		total += len(uniq)
		present += len(found)
		return nil
	}
	for a := range want {
		if batch = append(batch, a); len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return 0, 0, s.errf("verify", err)
			}
		}
	}
	if err := flush(); err != nil {
		return 0, 0, s.errf("verify", err)
	}
	pipe := s.rdb.Pipeline()
	scard := pipe.SCard(ctx, s.addrs)
	layout := pipe.HGet(ctx, s.params, "layout")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, 0, s.errf("verify", err)
	}
	card := int(scard.Val())
	s.m.addresses.Set(float64(card))
	if layout.Val() == "" { // no bloom: Match finds none of them
		return total, card, nil
	}
	return total - present, max(0, card-present), nil
}
