package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// lease is the leader lease: a Redis key holding the owner's random ID with a
// TTL. Only the owner may extend or release it (compare-and-set scripts), so
// a replica that lost the key can never take it back by renewing.
//
// Validity is tracked on real (monotonic) time, not on the scheduler's Clock:
// Redis expires the key on real time. A holder counts itself leader only until
// the instant it sent its last successful SET/renew plus the TTL, which is
// never later than Redis's own expiry.
type lease struct {
	rdb   redis.UniversalClient
	key   string
	owner string
	ttl   time.Duration
}

var renewScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// acquire takes the lease if nobody holds it. It returns the instant until
// which the caller may act as leader, or the zero time if someone else holds it.
func (l *lease) acquire(ctx context.Context) (time.Time, error) {
	sent := time.Now()
	err := l.rdb.SetArgs(ctx, l.key, l.owner, redis.SetArgs{Mode: "NX", TTL: l.ttl}).Err()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("acquire lease %s: %w", l.key, err)
	}
	return sent.Add(l.ttl), nil
}

// renew extends a lease the caller holds. The zero time means it was lost.
func (l *lease) renew(ctx context.Context) (time.Time, error) {
	sent := time.Now()
	n, err := renewScript.Run(ctx, l.rdb, []string{l.key}, l.owner, l.ttl.Milliseconds()).Int()
	if err != nil {
		return time.Time{}, fmt.Errorf("renew lease %s: %w", l.key, err)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return sent.Add(l.ttl), nil
}

// release deletes the lease if the caller still holds it, so a successor
// need not wait for the TTL on a clean shutdown.
func (l *lease) release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, l.rdb, []string{l.key}, l.owner).Err(); err != nil {
		return fmt.Errorf("release lease %s: %w", l.key, err)
	}
	return nil
}

// holder returns the owner ID currently holding the lease ("" if none).
func (l *lease) holder(ctx context.Context) (string, error) {
	owner, err := l.rdb.Get(ctx, l.key).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read lease %s: %w", l.key, err)
	}
	return owner, nil
}
