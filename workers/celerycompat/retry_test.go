package celerycompat_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/celery"
	"fundigo/workers/celerycompat"
)

// flaky fails with a transient error until it has been called n times.
func flaky(rec *recorder, n int) celerycompat.HandlerFunc {
	return rec.wrap(func(_ context.Context, m *celery.Message) (any, error) {
		if len(rec.calls()) < n {
			return nil, errors.New("database is restarting")
		}
		return map[string]any{"retries": m.Retries}, nil
	})
}

func TestRetryRepublishesSameIDWithRetriesPlusOne(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	var rec recorder
	b.start(t, map[string]celerycompat.HandlerFunc{"tests.flaky": flaky(&rec, 3)})
	m := newMessage(t, "tests.flaky")
	m.RootID, m.ParentID = "root-1", "parent-1"
	b.send(t, m)

	// RETRY is stored between attempts, with the exception and no date_done.
	retry := b.waitState(t, m.ID, celery.StateRetry, 10*time.Second)
	exc, err := retry.Exception()
	require.NoError(t, err)
	require.Equal(t, celery.RuntimeError("database is restarting"), exc)
	require.Nil(t, retry.DateDone)

	meta := b.waitState(t, m.ID, celery.StateSuccess, 20*time.Second)
	require.JSONEq(t, `{"retries": 2}`, string(meta.Result))
	calls := rec.calls()
	require.Len(t, calls, 3)
	times := rec.times()
	for i, c := range calls {
		require.Equal(t, m.ID, c.ID, "a retry keeps the task id")
		require.Equal(t, i, c.Retries, "each retry carries retries+1")
		require.Equal(t, "root-1", c.RootID)
		require.Equal(t, "parent-1", c.ParentID)
		if i > 0 {
			require.False(t, c.ETA.IsZero(), "a retry carries a new eta")
			require.GreaterOrEqual(t, times[i].Sub(times[i-1]), 150*time.Millisecond, "a retry waits for its eta")
		}
	}
	require.Eventually(t, func() bool { return b.ready(t, b.queue) == 0 }, 5*time.Second, 20*time.Millisecond)
}

func TestRetryGivesUpAfterMaxRetries(t *testing.T) {
	t.Parallel()
	b := setup(t, options{tweak: func(c *celerycompat.Config) { c.MaxRetries = 2 }})
	var rec recorder
	b.start(t, map[string]celerycompat.HandlerFunc{"tests.flaky": flaky(&rec, 100)})
	m := newMessage(t, "tests.flaky")
	b.send(t, m)
	meta := b.waitState(t, m.ID, celery.StateFailure, 20*time.Second)
	exc, err := meta.Exception()
	require.NoError(t, err)
	require.Equal(t, celery.RuntimeError("database is restarting"), exc)
	require.Len(t, rec.calls(), 3, "the first run and two retries")
}

func TestRetryExplicitCountdownAndException(t *testing.T) {
	t.Parallel()
	b := setup(t, options{tweak: func(c *celerycompat.Config) { c.MaxRetries = 1 }})
	var rec recorder
	b.start(t, map[string]celerycompat.HandlerFunc{
		"tests.busy": rec.wrap(func(context.Context, *celery.Message) (any, error) {
			return nil, celerycompat.Retry(celery.NewException("builtins", "ConnectionError", "provider busy"), time.Second)
		}),
	})
	m := newMessage(t, "tests.busy")
	b.send(t, m)
	meta := b.waitState(t, m.ID, celery.StateFailure, 20*time.Second)
	exc, err := meta.Exception()
	require.NoError(t, err)
	require.Equal(t, "ConnectionError", exc.Type, "past max retries the task fails with the retried exception")
	times := rec.times()
	require.Len(t, times, 2)
	require.GreaterOrEqual(t, times[1].Sub(times[0]), 900*time.Millisecond, "the handler's countdown is used")
	// A countdown above HoldETA went through the Asynq park and back.
	require.Equal(t, 1, rec.calls()[1].Retries)
}
