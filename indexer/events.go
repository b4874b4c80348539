package indexer

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// StreamKey is the Redis Stream of a chain's block events.
func StreamKey(chain string) string { return "blocks:" + chain }

// RedisPublisher appends events to the chain's stream, all in one round trip.
type RedisPublisher struct {
	Client *redis.Client
	MaxLen int64 // approximate cap of the stream (default 1,000,000 entries)
}

// Publish appends events in order.
func (p RedisPublisher) Publish(ctx context.Context, chain string, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	maxLen := p.MaxLen
	if maxLen == 0 {
		maxLen = 1_000_000
	}
	pipe := p.Client.Pipeline()
	for _, e := range events {
		values := []any{"kind", e.Kind, "chain", chain, "height", strconv.FormatInt(e.Height, 10), "hash", e.Hash, "prev_hash", e.PrevHash}
		if len(e.Credits) > 0 {
			js, err := json.Marshal(e.Credits)
			if err != nil {
				return err
			}
			values = append(values, "credits", string(js))
		}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: StreamKey(chain), MaxLen: maxLen, Approx: true, Values: values})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis: append to %s: %w", StreamKey(chain), err)
	}
	return nil
}
