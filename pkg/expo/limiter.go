package expo

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limiter admits messages before they are sent. Wait blocks until n messages
// may be sent now, or returns ctx's error. n is never above MaxBatch, so the
// client splits its requests accordingly. Implementations are safe for
// concurrent use.
type Limiter interface {
	Wait(ctx context.Context, n int) error
	MaxBatch() int
}

// RedisLimiter is a rate limit shared by every process that uses the same
// Redis key (GCRA, github.com/go-redis/redis_rate).
//
// The configured figure is a ceiling: in any one-second window, sliding or
// aligned, at most PerSecond messages are admitted. GCRA admits at most
// burst + rate×T messages in a window of T, so the limiter runs at
// rate = PerSecond − burst with burst = min(100, PerSecond/2): one full Expo
// request of burst, then a steady flow. At the default 600/s that is a steady
// 500/s with a first burst of 100, never 601 in a second.
type RedisLimiter struct {
	limiter *redis_rate.Limiter
	key     string
	limit   redis_rate.Limit
}

// NewRedisLimiter returns a limiter of perSecond messages a second stored
// under key (give each test its own key prefix).
func NewRedisLimiter(rdb redis.UniversalClient, key string, perSecond int) (*RedisLimiter, error) {
	if perSecond < 2 {
		return nil, fmt.Errorf("expo rate limit %d/s: need at least 2", perSecond)
	}
	burst := min(MaxMessagesPerRequest, perSecond/2)
	return &RedisLimiter{
		limiter: redis_rate.NewLimiter(rdb),
		key:     key,
		limit:   redis_rate.Limit{Rate: perSecond - burst, Burst: burst, Period: time.Second},
	}, nil
}

// MaxBatch is the largest n Wait accepts.
func (l *RedisLimiter) MaxBatch() int { return l.limit.Burst }

// Wait blocks until n messages are admitted.
func (l *RedisLimiter) Wait(ctx context.Context, n int) error {
	if n > l.limit.Burst {
		return &limiterError{fmt.Errorf("batch of %d exceeds burst %d", n, l.limit.Burst)}
	}
	for {
		res, err := l.limiter.AllowN(ctx, l.key, l.limit, n)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &limiterError{err}
		}
		if res.Allowed >= n {
			return nil
		}
		wait := max(res.RetryAfter, time.Millisecond)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
