package merchant

import (
	"context"
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
	if limit <= 0 {
		return true, 0, nil
	}
	now := time.Now()
	if r.now != nil {
		now = r.now()
	}
	key := "ratelimit:" + strconv.FormatInt(p.KeyID, 10) + ":" + strconv.FormatInt(now.Unix(), 10)
	var incr *redis.IntCmd
	if _, err := r.Redis.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		incr = pipe.Incr(ctx, key)
		pipe.Expire(ctx, key, 2*time.Second)
		return nil
	}); err != nil {
		return true, 0, err
	}
	if incr.Val() > int64(limit) {
		return false, now.Truncate(time.Second).Add(time.Second).Sub(now), nil
	}
	return true, 0, nil
}
