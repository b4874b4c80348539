package watch

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Sentinel is what watch:{chain}:sentinel says about the live set. Rebuild
// writes it in the same script that puts the new set in place, and Add never
// creates it, so a flushed, lost or older set shows as a missing or different
// Build even after Adds have started a new bitmap.
type Sentinel struct {
	Build     string // id of the Rebuild that made the live set; "" when there is none
	Addresses int64  // addresses the set held when it was built
	At        int64  // unix time of the build
	// RepairFrom is the lowest block height a process asked the guard to
	// repair from (RequestRepair), -1 when none is pending.
	RepairFrom int64
}

// Sentinel reads the set's sentinel; an error means Redis did not answer.
func (s *Set) Sentinel(ctx context.Context) (Sentinel, error) {
	v, err := s.rdb.HGetAll(ctx, s.sentinel).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return Sentinel{}, s.errf("sentinel", err)
	}
	out := Sentinel{Build: v["build"], RepairFrom: -1}
	out.Addresses, _ = strconv.ParseInt(v["addresses"], 10, 64)
	out.At, _ = strconv.ParseInt(v["at"], 10, 64)
	if r, ok := v["repair_from"]; ok {
		if h, err := strconv.ParseInt(r, 10, 64); err == nil && h >= 0 {
			out.RepairFrom = h
		}
	}
	return out, nil
}

// RequestRepair asks the guard of this chain (in whichever process runs it)
// to check the set against the ledger and reconcile the blocks from height
// on: what a process does when an Add failed (Redis was down) and Redis
// answers again. Requests keep the lowest height.
func (s *Set) RequestRepair(ctx context.Context, height int64) error {
	if err := s.exec(ctx, func(p redis.Pipeliner) {
		repairScript.evalSha(ctx, p, []string{s.sentinel}, max(height, 0))
	}); err != nil {
		return s.errf("request repair", err)
	}
	return nil
}

// repaired clears the repair request of height, unless a lower one replaced it.
func (s *Set) repaired(ctx context.Context, height int64) error {
	if err := s.exec(ctx, func(p redis.Pipeliner) {
		repairedScript.evalSha(ctx, p, []string{s.sentinel}, height)
	}); err != nil {
		return s.errf("clear repair request", fmt.Errorf("height %d: %w", height, err))
	}
	return nil
}
