package tasks

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/outcome"
	"fundigo/pkg/store"
)

func TestPermanentIsClassified(t *testing.T) {
	t.Parallel()
	base := errors.New("bad payload")
	err := Permanent(base)
	require.True(t, IsPermanent(err))
	require.ErrorIs(t, err, base)
	require.False(t, IsPermanent(base))
	require.NoError(t, Permanent(nil))
}

func TestRetryDelayGrowsAndIsCapped(t *testing.T) {
	t.Parallel()
	for n := 0; n < 20; n++ {
		d := RetryDelay(n, nil, nil)
		ceiling := time.Second << min(n, 9)
		ceiling = min(ceiling, 5*time.Minute)
		require.GreaterOrEqual(t, d, ceiling/2, "attempt %d", n)
		require.LessOrEqual(t, d, ceiling, "attempt %d", n)
	}
}

func TestRetryDelayHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	busy := &RetryAfter{After: 40 * time.Second, Err: errors.New("rate busy")}
	wrapped := fmt.Errorf("confirm x: %w", busy)
	for n := 0; n < 3; n++ {
		d := RetryDelay(n, wrapped, nil)
		require.GreaterOrEqual(t, d, 40*time.Second, "never sooner than asked")
		require.LessOrEqual(t, d, 44*time.Second)
	}
	// A longer backoff still applies: a crowd turned away together spreads.
	d := RetryDelay(8, wrapped, nil)
	require.GreaterOrEqual(t, d, 128*time.Second)
	require.Contains(t, busy.Error(), "retry in 40s")
	require.ErrorIs(t, wrapped, busy.Err)
}

func TestQueues(t *testing.T) {
	t.Parallel()
	q := NewQueues("x:")
	require.Equal(t, []string{"x:critical", "x:default", "x:low"}, q.All())
	require.Equal(t, 6, q.Priorities()["x:critical"])
}

func TestQueuesConcurrency(t *testing.T) {
	t.Parallel()
	q := NewQueues("x:")
	for total, want := range map[int][3]int{
		20: {20, 20, 4},
		6:  {6, 6, 1},
		7:  {7, 7, 2}, // a sixth, rounded up
		1:  {1, 1, 1},
		0:  {1, 1, 1},
	} {
		got := q.Concurrency(total)
		require.Equal(t, want, [3]int{got[q.Critical], got[q.Default], got[q.Low]}, "total %d", total)
	}
}

func TestClassifyMiddleware(t *testing.T) {
	t.Parallel()
	run := func(err error) error {
		h := Classify()(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return err }))
		return h.ProcessTask(context.Background(), asynq.NewTask("t", nil))
	}
	require.NoError(t, run(nil))
	require.NoError(t, run(fmt.Errorf("mark paid: %w", store.ErrStaleTransition)), "already done")
	for name, err := range map[string]error{
		"marked":          outcome.Permanent(errors.New("bad")),
		"tasks.Permanent": Permanent(errors.New("bad")),
		"sqlstate 22021":  fmt.Errorf("insert: %w", &pgconn.PgError{Code: "22021"}),
		"sqlstate 23503":  &pgconn.PgError{Code: "23503"},
		"bare SkipRetry":  fmt.Errorf("no: %w", asynq.SkipRetry),
	} {
		got := run(err)
		require.ErrorIs(t, got, asynq.SkipRetry, name)
		require.True(t, outcome.IsPermanent(got), name)
		require.True(t, IsPermanent(got), name)
	}
	retry := run(errors.New("connection refused"))
	require.Error(t, retry)
	require.NotErrorIs(t, retry, asynq.SkipRetry)
	require.False(t, IsPermanent(retry))
}

// A RetrySoon error keeps the early backoff but never waits longer than
// its Within, at any attempt; a RetryAfter it wraps still wins.
func TestRetryDelayCappedByRetrySoon(t *testing.T) {
	t.Parallel()
	pending := fmt.Errorf("confirm: %w", &RetrySoon{Within: 5 * time.Second, Err: errors.New("still processing")})
	for n := range 20 {
		d := RetryDelay(n, pending, nil)
		require.LessOrEqual(t, d, 5*time.Second, "attempt %d", n)
		require.GreaterOrEqual(t, d, min(backoffFloor(n), 2500*time.Millisecond), "attempt %d", n)
	}
	require.Greater(t, RetryDelay(12, errors.New("plain"), nil), 2*time.Minute, "other errors keep the long backoff")
	busy := &RetrySoon{Within: 5 * time.Second, Err: &RetryAfter{After: 40 * time.Second, Err: errors.New("rate busy")}}
	require.GreaterOrEqual(t, RetryDelay(0, busy, nil), 40*time.Second)
}

// backoffFloor is the least backoff(n) returns: half of 1 s doubled n
// times, capped at 5 minutes.
func backoffFloor(n int) time.Duration {
	d := time.Second << min(n, 9)
	return min(d, 5*time.Minute) / 2
}
