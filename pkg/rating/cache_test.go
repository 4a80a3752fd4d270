package rating

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
	"fundigo/pkg/events"
	"fundigo/pkg/nettest"
	"fundigo/pkg/tasks/taskstest"
)

// Issue 12 row 9: with Redis black-holed, rating and top reads used to
// wait for go-redis's socket timeouts (15 s per request). Now each cache
// call gives up at its budget and the read is served from the loader
// (PostgreSQL); after a few failures the breaker skips Redis entirely; once
// Redis answers again, a probe closes the breaker and hits resume.
func TestCacheDegradesFastWhenRedisIsBlackHoled(t *testing.T) {
	t.Parallel()
	opt, err := redis.ParseURL(taskstest.URL())
	require.NoError(t, err)
	hole := nettest.NewProxy(t, opt.Addr)
	opt.Addr = hole.Addr()
	// Socket timeouts far above anything the test waits for: without the
	// budget every read below would hang for a minute.
	opt.ReadTimeout, opt.WriteTimeout, opt.MaxRetries = time.Minute, time.Minute, 0
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	prefix := taskstest.Prefix(t)
	t.Cleanup(func() { // the proxy is cut by then; clean up directly
		direct := taskstest.Redis(t)
		keys, _ := direct.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			direct.Del(context.Background(), keys...)
		}
	})
	c := NewCache(rdb, prefix, config.Ratings{
		CacheTTL: time.Minute, TopCacheTTL: time.Minute, CacheBudget: 50 * time.Millisecond, CacheBreakerOpen: 300 * time.Millisecond,
	})
	var loads atomic.Int64
	load := func(_ context.Context, id string) (events.RatingUpdated, error) {
		loads.Add(1)
		return events.RatingUpdated{TechnicianID: id, Count: 3}, nil
	}
	loadTop := func(_ context.Context, _ string, _ int) ([]events.RatingUpdated, error) {
		loads.Add(1)
		return []events.RatingUpdated{{TechnicianID: "t1"}}, nil
	}
	ctx := context.Background()

	// Healthy: miss, then hit.
	_, hit, err := c.Rating(ctx, "t1", load)
	require.NoError(t, err)
	require.False(t, hit)
	_, hit, err = c.Rating(ctx, "t1", load)
	require.NoError(t, err)
	require.True(t, hit, "served from Redis through the proxy")

	hole.Blackhole(true)
	// Every read still answers, from the loader, each within its budget;
	// the breaker opens after a few failures. The deadline below is a hang
	// detector (a minute of socket timeout per read without the budget),
	// not a performance bound.
	type read struct {
		count, top int
		hits       int
		err        error
	}
	reads := make(chan read, 20)
	go func() {
		defer close(reads)
		for range 20 {
			r, hit1, err1 := c.Rating(ctx, "t1", load)
			list, hit2, err2 := c.Top(ctx, "", 10, loadTop)
			hits := 0
			if hit1 || hit2 {
				hits = 1
			}
			reads <- read{count: r.Count, top: len(list), hits: hits, err: errors.Join(err1, err2)}
		}
	}()
	for range 20 {
		select {
		case r := <-reads:
			require.NoError(t, r.err)
			require.Equal(t, read{count: 3, top: 1}, r)
		case <-time.After(20 * time.Second):
			t.Fatal("cache reads hang while Redis is black-holed")
		}
	}
	require.Equal(t, int64(1+40), loads.Load(), "every read during the outage served by the loader")
	require.False(t, c.Available(), "breaker open: Redis skipped")
	require.ErrorIs(t, c.Invalidate(ctx, "t1"), ErrCacheUnavailable, "an invalidation fails fast, so its caller retries")

	// Redis is back: after the open period a probe goes through, the
	// breaker closes and reads are hits again (the entry cached before the
	// outage is still there).
	hole.Blackhole(false)
	require.Eventually(t, func() bool {
		_, hit, err := c.Rating(ctx, "t1", load)
		return err == nil && hit
	}, 10*time.Second, 20*time.Millisecond)
	require.True(t, c.Available())
}

// POST /v1/reviews with Redis black-holed (issue 12 row 9): the review is
// stored and its technician recomputed inline within the enqueue and cache
// budgets, instead of hanging on the Asynq enqueue and the invalidation.
func TestAcceptReviewWithRedisBlackHoled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	opt, err := redis.ParseURL(taskstest.URL())
	require.NoError(t, err)
	hole := nettest.NewProxy(t, opt.Addr)
	hole.Blackhole(true)
	opt.Addr = hole.Addr()
	opt.ReadTimeout, opt.WriteTimeout, opt.MaxRetries = time.Minute, time.Minute, 0
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	tc := asynq.NewClientFromRedisClient(rdb)
	d := b.deps
	d.Tasks = tc
	d.Cache = NewCache(rdb, taskstest.Prefix(t), d.Config)

	type result struct {
		acc Accepted
		err error
	}
	done := make(chan result, 1)
	go func() {
		acc, err := AcceptReview(context.Background(), d, ServiceAuthor,
			events.ReviewCreated{JobID: "job-bh", TechnicianID: "tech-bh", CustomerID: "cust", Rating: 4}, RecomputeInline)
		done <- result{acc, err}
	}()
	select {
	case r := <-done:
		require.NoError(t, r.err)
		require.NotEmpty(t, r.acc.Review.ID)
	case <-time.After(30 * time.Second): // a hang detector, not a performance bound
		t.Fatal("accepting a review hangs while Redis is black-holed")
	}
	got, err := b.deps.Store().Get(context.Background(), "tech-bh")
	require.NoError(t, err, "recomputed inline")
	require.Equal(t, 1, got.Count)
}
