package merchant

import (
	"context"
	"net/netip"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RateLimiter counts requests per key in one-second windows in Redis, so
// the limit holds across every API process.
type RateLimiter struct {
	Redis   *redis.Client
	Default int // requests per second when the key sets none
	now     func() time.Time
}

// Allow counts one request of the key; false means over the limit, with
// how long until the next window. An error (Redis down) is returned with
// ok = true: callers let the request through rather than fail payments
// because the limiter's store is away.
func (r *RateLimiter) Allow(ctx context.Context, p Principal) (ok bool, retryAfter time.Duration, err error) {
	limit := p.RateLimit
	if limit == 0 {
		limit = r.Default
	}
	return window(ctx, r.Redis, "ratelimit:"+strconv.FormatInt(p.KeyID, 10), limit, time.Second, clock(r.now))
}

// window counts one hit of id in the fixed window of length w that holds
// now: Redis INCR on a key per window, expiring with it. false means over
// limit, with how long until the window ends. limit <= 0 allows all.
func window(ctx context.Context, rdb *redis.Client, id string, limit int, w time.Duration, now time.Time) (bool, time.Duration, error) {
	if limit <= 0 {
		return true, 0, nil
	}
	secs := max(int64(w/time.Second), 1)
	start := now.Unix() / secs * secs
	key := id + ":" + strconv.FormatInt(start, 10)
	var incr *redis.IntCmd
	if _, err := rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		incr = pipe.Incr(ctx, key)
		pipe.Expire(ctx, key, time.Duration(secs+1)*time.Second)
		return nil
	}); err != nil {
		return true, 0, err
	}
	if incr.Val() > int64(limit) {
		return false, time.Unix(start+secs, 0).Sub(now), nil
	}
	return true, 0, nil
}

func clock(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

// IPLimiter limits, per source IP, what comes without a valid API key:
// requests served without one (keyless litepay receive), and failed
// authentications, after which the IP's auth attempts are refused for a
// while. Counters live in Redis (fixed windows, as RateLimiter's), so the
// limits hold across API processes. Like RateLimiter it lets requests
// through when Redis is down, returning the error.
type IPLimiter struct {
	Redis *redis.Client
	// Unauthenticated is how many requests without a key an IP may make
	// per Window; 0 or less: no limit.
	Unauthenticated int
	// FailedAuth is how many failed authentications an IP may have per
	// Window; one more blocks the IP's auth attempts for Block. 0 or less:
	// no limit.
	FailedAuth    int
	Window, Block time.Duration
	// Prefix of the Redis keys ("iplimit:" when empty).
	Prefix string
	now    func() time.Time
}

// IPKey is what an IP is counted as: the address itself, or for IPv6 its
// /64, since one host can use a whole /64. ok is false for no IP.
func IPKey(ip string) (string, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "", false
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String(), true
	}
	return a.String(), true
}

func (l *IPLimiter) prefix() string {
	if l.Prefix == "" {
		return "iplimit:"
	}
	return l.Prefix
}

// AllowUnauthenticated counts one request without a key from ip; false
// means over the limit, with how long until the window ends.
func (l *IPLimiter) AllowUnauthenticated(ctx context.Context, ip string) (bool, time.Duration, error) {
	k, ok := IPKey(ip)
	if !ok || l.Unauthenticated <= 0 {
		return true, 0, nil
	}
	return window(ctx, l.Redis, l.prefix()+"anon:"+k, l.Unauthenticated, l.Window, clock(l.now))
}

// Blocked tells how much longer ip's auth attempts are refused (0: not blocked).
func (l *IPLimiter) Blocked(ctx context.Context, ip string) (time.Duration, error) {
	k, ok := IPKey(ip)
	if !ok || l.FailedAuth <= 0 {
		return 0, nil
	}
	ttl, err := l.Redis.PTTL(ctx, l.prefix()+"block:"+k).Result()
	if err != nil || ttl <= 0 { // -2: no key; -1 cannot happen (always set with a TTL)
		return 0, err
	}
	return ttl, nil
}

// Failed counts a failed authentication from ip. Over the limit it blocks
// the IP for Block and returns how long.
func (l *IPLimiter) Failed(ctx context.Context, ip string) (time.Duration, error) {
	k, ok := IPKey(ip)
	if !ok || l.FailedAuth <= 0 {
		return 0, nil
	}
	allowed, _, err := window(ctx, l.Redis, l.prefix()+"fail:"+k, l.FailedAuth, l.Window, clock(l.now))
	if err != nil || allowed {
		return 0, err
	}
	block := max(l.Block, time.Second)
	if err := l.Redis.Set(ctx, l.prefix()+"block:"+k, 1, block).Err(); err != nil {
		return 0, err
	}
	return block, nil
}
