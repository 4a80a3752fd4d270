package rating

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"fundigo/pkg/config"
	"fundigo/pkg/events"
)

// MaxTop is the longest top list; one list of MaxTop is cached per category
// and sliced to the requested limit.
const MaxTop = 100

// Defaults of the cache's budget and breaker (config.Ratings zero values).
const (
	DefaultCacheBudget      = 75 * time.Millisecond
	DefaultCacheBreakerOpen = 5 * time.Second
	// cacheTripAfter consecutive failed or over-budget calls open the breaker.
	cacheTripAfter = 3
	// invalidateBudget bounds one DEL chunk: an invalidation is a write the
	// recompute waits for, so it gets more room than a read, but it still
	// must not hang a request (the inline recompute of POST /v1/reviews).
	invalidateBudget = time.Second
)

// ErrCacheUnavailable: Redis did not answer within the budget, or the
// breaker is open. Reads never return it (they fall back to the loader);
// Invalidate does, so the caller retries.
var ErrCacheUnavailable = errors.New("rating cache unavailable")

// Cache is the Redis cache in front of technician ratings: read-through for
// GET /v1/technicians/{id}/rating (invalidated by the recompute when a
// rating changes, with a TTL as a safety net) and the top-technicians lists
// (expire after a few minutes, never invalidated).
//
// Reads never fail because of Redis, and never wait for a sick Redis: each
// call has a budget (config.Ratings.CacheBudget, 50–100 ms), past which the
// loader's answer (PostgreSQL) is served; after a few consecutive failures a
// circuit breaker skips Redis altogether for CacheBreakerOpen, then lets one
// probe through. A call abandoned at its budget finishes (or times out) in
// go-redis on its own goroutine; while the breaker is open none are started.
// The API fills the cache and the recompute invalidates it, so both share
// the key layout defined here.
//
// Cache is safe for concurrent use; build one per process (the breaker's
// state is per Cache).
type Cache struct {
	rdb     redis.Cmdable
	prefix  string
	ttl     time.Duration
	topTTL  time.Duration
	budget  time.Duration
	breaker *gobreaker.CircuitBreaker[[]byte]
}

// NewCache returns a cache under key prefix: ratings live for cfg.CacheTTL
// unless invalidated, top lists for cfg.TopCacheTTL; every Redis call is
// bounded by cfg.CacheBudget and guarded by a breaker that stays open for
// cfg.CacheBreakerOpen (zero values take the defaults).
func NewCache(rdb redis.Cmdable, prefix string, cfg config.Ratings) *Cache {
	if cfg.CacheBudget <= 0 {
		cfg.CacheBudget = DefaultCacheBudget
	}
	if cfg.CacheBreakerOpen <= 0 {
		cfg.CacheBreakerOpen = DefaultCacheBreakerOpen
	}
	return &Cache{
		rdb: rdb, prefix: prefix, ttl: cfg.CacheTTL, topTTL: cfg.TopCacheTTL, budget: cfg.CacheBudget,
		breaker: gobreaker.NewCircuitBreaker[[]byte](gobreaker.Settings{
			Name:        "rating-cache",
			MaxRequests: 1,
			Timeout:     cfg.CacheBreakerOpen,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= cacheTripAfter },
			// A miss is an answer; a caller that went away says nothing
			// about Redis.
			IsSuccessful: func(err error) bool {
				return err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled)
			},
		}),
	}
}

// Available reports whether the breaker lets calls through (closed or
// half-open): false while Redis is being skipped.
func (c *Cache) Available() bool { return c.breaker.State() != gobreaker.StateOpen }

// call runs fn against Redis within budget, through the breaker. fn runs
// on its own goroutine so that a Redis that stopped answering costs the
// caller the budget, not go-redis's socket timeouts.
func (c *Cache) call(ctx context.Context, budget time.Duration, fn func(context.Context) ([]byte, error)) ([]byte, error) {
	b, err := c.breaker.Execute(func() ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, budget)
		defer cancel()
		type result struct {
			b   []byte
			err error
		}
		done := make(chan result, 1)
		go func() {
			b, err := fn(ctx)
			done <- result{b, err}
		}()
		select {
		case r := <-done:
			return r.b, r.err
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: no answer within %s: %w", ErrCacheUnavailable, budget, ctx.Err())
		}
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return nil, fmt.Errorf("%w: %w", ErrCacheUnavailable, err)
	}
	return b, err
}

func (c *Cache) get(ctx context.Context, key string) ([]byte, error) {
	return c.call(ctx, c.budget, func(ctx context.Context) ([]byte, error) { return c.rdb.Get(ctx, key).Bytes() })
}

// set is best effort: a failed fill only costs a later miss (and counts
// towards the breaker).
func (c *Cache) set(ctx context.Context, key string, v any, ttl time.Duration) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	_, _ = c.call(ctx, c.budget, func(ctx context.Context) ([]byte, error) { return nil, c.rdb.Set(ctx, key, b, ttl).Err() })
}

// RatingKey is the key of one technician's cached rating.
func (c *Cache) RatingKey(technicianID string) string {
	return c.prefix + "ratings:technician:" + technicianID
}

func (c *Cache) topKey(category string) string {
	return c.prefix + "ratings:top:" + category
}

// Rating returns the technician's rating from the cache, or from load (then
// cached). Errors of load (e.g. store.ErrNotFound) are returned unchanged
// and nothing is cached.
func (c *Cache) Rating(ctx context.Context, technicianID string,
	load func(context.Context, string) (events.RatingUpdated, error)) (r events.RatingUpdated, hit bool, err error) {
	key := c.RatingKey(technicianID)
	if b, err := c.get(ctx, key); err == nil && json.Unmarshal(b, &r) == nil {
		return r, true, nil
	}
	r, err = load(ctx, technicianID)
	if err != nil {
		return r, false, err
	}
	c.set(ctx, key, r, c.ttl)
	return r, false, nil
}

// Top returns up to limit (<= MaxTop) top technicians of category from the
// cache or from load, which is always asked for MaxTop.
func (c *Cache) Top(ctx context.Context, category string, limit int,
	load func(ctx context.Context, category string, limit int) ([]events.RatingUpdated, error)) ([]events.RatingUpdated, bool, error) {
	var list []events.RatingUpdated
	key := c.topKey(category)
	hit := false
	if b, err := c.get(ctx, key); err == nil && json.Unmarshal(b, &list) == nil {
		hit = true
	} else {
		list, err = load(ctx, category, MaxTop+1) // one more: a full first page knows whether a next one exists
		if err != nil {
			return nil, false, err
		}
		c.set(ctx, key, list, c.topTTL)
	}
	if list == nil {
		list = []events.RatingUpdated{}
	}
	return list[:min(limit, len(list))], hit, nil
}

// Invalidate deletes the cached ratings of the technicians (in chunks, so
// a batch that changed thousands stays a few round trips). Call it after the
// change committed. It fails (ErrCacheUnavailable) rather than waiting when
// Redis is sick, so the caller retries later.
func (c *Cache) Invalidate(ctx context.Context, technicianIDs ...string) error {
	const chunk = 1000
	var errs []error
	for len(technicianIDs) > 0 {
		n := min(chunk, len(technicianIDs))
		keys := make([]string, n)
		for i, id := range technicianIDs[:n] {
			keys[i] = c.RatingKey(id)
		}
		if _, err := c.call(ctx, max(c.budget, invalidateBudget), func(ctx context.Context) ([]byte, error) {
			return nil, c.rdb.Del(ctx, keys...).Err()
		}); err != nil {
			errs = append(errs, err)
		}
		technicianIDs = technicianIDs[n:]
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalidate cached ratings: %w", err)
	}
	return nil
}
