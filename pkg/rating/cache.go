package rating

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"fundigo/pkg/events"
)

// MaxTop is the longest top list; one list of MaxTop is cached per category
// and sliced to the requested limit.
const MaxTop = 100

// Cache is the Redis cache in front of technician ratings:
// read-through for GET /v1/technicians/{id}/rating (invalidated by the
// recompute when a rating changes, with a TTL as a safety net) and the
// top-technicians lists (expire after a few minutes, never invalidated).
//
// Reads never fail because of Redis: on a cache error the loader's answer is
// served. The API fills the cache and the ratings worker invalidates it, so
// both share the key layout defined here.
//
// Cache is safe for concurrent use.
type Cache struct {
	rdb    redis.Cmdable
	prefix string
	ttl    time.Duration
	topTTL time.Duration
}

// NewCache returns a cache under key prefix: ratings live for ttl unless
// invalidated, top lists for topTTL.
func NewCache(rdb redis.Cmdable, prefix string, ttl, topTTL time.Duration) *Cache {
	return &Cache{rdb: rdb, prefix: prefix, ttl: ttl, topTTL: topTTL}
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
	if b, err := c.rdb.Get(ctx, key).Bytes(); err == nil && json.Unmarshal(b, &r) == nil {
		return r, true, nil
	}
	r, err = load(ctx, technicianID)
	if err != nil {
		return r, false, err
	}
	if b, err := json.Marshal(r); err == nil {
		c.rdb.Set(ctx, key, b, c.ttl) // best effort: a failed fill only costs a later miss
	}
	return r, false, nil
}

// Top returns up to limit (<= MaxTop) top technicians of category from the
// cache or from load, which is always asked for MaxTop.
func (c *Cache) Top(ctx context.Context, category string, limit int,
	load func(ctx context.Context, category string, limit int) ([]events.RatingUpdated, error)) ([]events.RatingUpdated, bool, error) {
	var list []events.RatingUpdated
	key := c.topKey(category)
	hit := false
	if b, err := c.rdb.Get(ctx, key).Bytes(); err == nil && json.Unmarshal(b, &list) == nil {
		hit = true
	} else {
		list, err = load(ctx, category, MaxTop)
		if err != nil {
			return nil, false, err
		}
		if b, err := json.Marshal(list); err == nil {
			c.rdb.Set(ctx, key, b, c.topTTL)
		}
	}
	if list == nil {
		list = []events.RatingUpdated{}
	}
	return list[:min(limit, len(list))], hit, nil
}

// Invalidate deletes the cached ratings of the technicians (in chunks, so
// a batch that changed thousands stays a few round trips). Call it after the
// change committed.
func (c *Cache) Invalidate(ctx context.Context, technicianIDs ...string) error {
	const chunk = 1000
	var errs []error
	for len(technicianIDs) > 0 {
		n := min(chunk, len(technicianIDs))
		keys := make([]string, n)
		for i, id := range technicianIDs[:n] {
			keys[i] = c.RatingKey(id)
		}
		if err := c.rdb.Del(ctx, keys...).Err(); err != nil {
			errs = append(errs, err)
		}
		technicianIDs = technicianIDs[n:]
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalidate cached ratings: %w", err)
	}
	return nil
}
