package celerycompat_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/celery"
	"fundigo/workers/celerycompat"
)

func TestRunStoresSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	rec, _ := b.startAdd(t)
	m := newMessage(t, "tests.add", 2, 3)
	b.send(t, m)
	meta := b.waitState(t, m.ID, celery.StateSuccess, 10*time.Second)
	require.JSONEq(t, `5`, string(meta.Result))
	require.NotNil(t, meta.DateDone)
	require.Len(t, rec.calls(), 1)
	require.Eventually(t, func() bool { return b.ready(t, b.queue) == 0 }, 5*time.Second, 20*time.Millisecond)
}

func TestRunStoresFailureWithPythonClass(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	var rec recorder
	b.start(t, map[string]celerycompat.HandlerFunc{
		"tests.fail": rec.wrap(func(context.Context, *celery.Message) (any, error) {
			return nil, fmt.Errorf("check amount: %w", celery.ValueError("amount must be positive"))
		}),
	})
	m := newMessage(t, "tests.fail")
	b.send(t, m)
	meta := b.waitState(t, m.ID, celery.StateFailure, 10*time.Second)
	exc, err := meta.Exception()
	require.NoError(t, err)
	require.Equal(t, celery.ValueError("amount must be positive"), exc)
	require.Contains(t, *meta.Traceback, "ValueError: amount must be positive")
	require.Len(t, rec.calls(), 1, "an exception is final: no retry")
}

func TestRunPanicFailsWithoutRetry(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	var rec recorder
	b.start(t, map[string]celerycompat.HandlerFunc{
		"tests.panic": rec.wrap(func(context.Context, *celery.Message) (any, error) { panic("boom") }),
	})
	m := newMessage(t, "tests.panic")
	b.send(t, m)
	meta := b.waitState(t, m.ID, celery.StateFailure, 10*time.Second)
	exc, err := meta.Exception()
	require.NoError(t, err)
	require.Equal(t, "RuntimeError", exc.Type)
	require.Len(t, rec.calls(), 1)
}

func TestRunHardTimeLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	b.start(t, map[string]celerycompat.HandlerFunc{
		"tests.slow": func(ctx context.Context, _ *celery.Message) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	})
	m := newMessage(t, "tests.slow")
	m.TimeLimit = celery.TimeLimit{Hard: 200 * time.Millisecond, Soft: 100 * time.Millisecond}
	b.send(t, m)
	meta := b.waitState(t, m.ID, celery.StateFailure, 10*time.Second)
	exc, err := meta.Exception()
	require.NoError(t, err)
	require.Equal(t, celery.TimeLimitExceeded(0.2), exc, "the message's [hard, soft] limit applies")
}

func TestRunIgnoreResultStoresNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	rec, _ := b.startAdd(t)
	m := newMessage(t, "tests.add", 1)
	m.IgnoreResult = true
	b.send(t, m)
	require.Eventually(t, func() bool { return len(rec.calls()) == 1 && b.ready(t, b.queue) == 0 },
		10*time.Second, 20*time.Millisecond)
	meta, err := b.backend.Get(context.Background(), m.ID)
	require.NoError(t, err)
	require.Equal(t, celery.StatePending, meta.Status)
}

func TestRunSkipsTaskWithStoredSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	rec, _ := b.startAdd(t)

	done := newMessage(t, "tests.add", 1)
	meta, err := celery.SuccessMeta(done, 41, time.Now())
	require.NoError(t, err)
	_, err = b.backend.Store(context.Background(), meta)
	require.NoError(t, err)
	b.send(t, done)
	marker := newMessage(t, "tests.add", 1) // sent after: once it ran, done was settled
	b.send(t, marker)
	b.waitState(t, marker.ID, celery.StateSuccess, 10*time.Second)

	require.Eventually(t, func() bool { return b.ready(t, b.queue) == 0 }, 5*time.Second, 20*time.Millisecond)
	for _, m := range rec.calls() {
		require.NotEqual(t, done.ID, m.ID, "a task whose SUCCESS is stored must not run again")
	}
	got, err := b.backend.Get(context.Background(), done.ID)
	require.NoError(t, err)
	require.JSONEq(t, `41`, string(got.Result))
}

func TestRunResultNotEncodable(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	b.start(t, map[string]celerycompat.HandlerFunc{
		"tests.chan": func(context.Context, *celery.Message) (any, error) { return make(chan int), nil },
	})
	m := newMessage(t, "tests.chan")
	b.send(t, m)
	meta := b.waitState(t, m.ID, celery.StateFailure, 10*time.Second)
	exc, err := meta.Exception()
	require.NoError(t, err)
	require.Equal(t, "RuntimeError", exc.Type)
}
