package workers

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
)

func TestRunClassifiesErrorsAndDrains(t *testing.T) {
	t.Parallel()
	q := taskstest.Queues(t)
	var logs bytes.Buffer
	logw := zerolog.SyncWriter(&logs)
	s := New(zerolog.New(logw), taskstest.RedisOpt(), nil, Config{Queues: q, Concurrency: 4,
		DelayedTaskCheckInterval: 100 * time.Millisecond, ShutdownTimeout: 5 * time.Second})

	var flaky, stale, permanent, slowDone atomic.Int32
	slowStarted := make(chan struct{})
	s.Mux().HandleFunc("test:flaky", func(ctx context.Context, t *asynq.Task) error {
		if flaky.Add(1) < 3 {
			return errors.New("transient")
		}
		return nil
	})
	s.Mux().HandleFunc("test:stale", func(ctx context.Context, t *asynq.Task) error {
		stale.Add(1)
		return store.ErrStaleTransition
	})
	s.Mux().HandleFunc("test:permanent", func(ctx context.Context, t *asynq.Task) error {
		permanent.Add(1)
		return tasks.Permanent(errors.New("bad payload"))
	})
	s.Mux().HandleFunc("test:slow", func(ctx context.Context, t *asynq.Task) error {
		close(slowStarted)
		time.Sleep(500 * time.Millisecond) // the work being drained at shutdown
		slowDone.Add(1)
		return nil
	})
	require.True(t, s.HasHandler("test:flaky"))
	require.False(t, s.HasHandler("test:missing"))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	c := taskstest.Client(t)
	for _, typ := range []string{"test:flaky", "test:stale", "test:permanent"} {
		_, err := c.Enqueue(asynq.NewTask(typ, nil), asynq.Queue(q.Default), asynq.MaxRetry(5), asynq.Retention(time.Hour))
		require.NoError(t, err)
	}
	insp := taskstest.Inspector(t)
	require.Eventually(t, func() bool {
		arch, _ := insp.ListArchivedTasks(q.Default)
		done, _ := insp.ListCompletedTasks(q.Default)
		return flaky.Load() == 3 && len(arch) == 1 && len(done) == 2
	}, 30*time.Second, 50*time.Millisecond)
	require.EqualValues(t, 1, stale.Load(), "already-done is success, not retried")
	require.EqualValues(t, 1, permanent.Load(), "permanent is not retried")

	_, err := c.Enqueue(asynq.NewTask("test:slow", nil), asynq.Queue(q.Critical))
	require.NoError(t, err)
	<-slowStarted
	cancel()
	require.NoError(t, <-done)
	require.EqualValues(t, 1, slowDone.Load(), "in-flight task finished before Run returned")
	_, _ = logw.Write(nil) // all writers are done: Run returned
	require.Contains(t, logs.String(), "task failed permanently")
}

func TestRunnersStartAfterConsumerQueuesExist(t *testing.T) {
	t.Parallel()
	log := zerolog.Nop()
	conn := amqpxtest.Conn(t, log)
	ns := amqpxtest.Names(t)
	queue, exchange := ns.Queue("orders"), ns.Exchange("events")
	s := New(log, taskstest.RedisOpt(), conn, Config{Queues: taskstest.Queues(t), Concurrency: 1})
	s.AddConsumer(amqpx.ConsumerSpec{Queue: queue, Exchange: exchange, Bindings: []string{"order.*"},
		Handler: func(context.Context, amqp.Delivery) error { return nil }})

	seen := make(chan error, 1)
	s.AddRunner(func(ctx context.Context) error {
		ch, err := conn.Channel(ctx)
		if err == nil {
			_, err = ch.QueueDeclarePassive(queue, true, false, false, false, nil)
			_ = ch.Close()
		}
		seen <- err
		<-ctx.Done()
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case err := <-seen:
		require.NoError(t, err, "the consumer's queue exists when the runner starts")
	case <-time.After(30 * time.Second):
		t.Fatal("runner never started")
	}
	cancel()
	require.NoError(t, <-done)
}

// A backlog on low cannot delay critical: with 10,000 low tasks queued and
// every low goroutine held by one, a critical task enqueued afterwards is
// processed while the low backlog is untouched. One weighted server would
// fill all its goroutines with low tasks and never reach the critical one.
func TestCriticalIsNotDelayedByALowBacklog(t *testing.T) {
	t.Parallel()
	q := taskstest.Queues(t)
	s := New(zerolog.Nop(), taskstest.RedisOpt(), nil, Config{Queues: q, Concurrency: 20, ShutdownTimeout: 5 * time.Second})
	gate := make(chan struct{})
	var lowStarted, lowDone atomic.Int64
	var criticalDone atomic.Bool
	var lowDoneAtCritical atomic.Int64
	s.Mux().HandleFunc("test:low", func(ctx context.Context, _ *asynq.Task) error {
		lowStarted.Add(1)
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
		lowDone.Add(1)
		return nil
	})
	s.Mux().HandleFunc("test:critical", func(context.Context, *asynq.Task) error {
		lowDoneAtCritical.Store(lowDone.Load())
		criticalDone.Store(true)
		return nil
	})

	const backlog = 10_000
	c := taskstest.Client(t)
	var wg sync.WaitGroup
	var enqueueErrs atomic.Int64
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < backlog; i += 16 {
				if _, err := c.Enqueue(asynq.NewTask("test:low", nil), asynq.Queue(q.Low)); err != nil {
					enqueueErrs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Zero(t, enqueueErrs.Load())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		close(gate)
		cancel()
		require.NoError(t, <-done)
	}()

	// Every low goroutine (4 with concurrency 20) is now held by a low task.
	want := int64(q.Concurrency(20)[q.Low])
	require.Eventually(t, func() bool { return lowStarted.Load() == want }, 30*time.Second, 10*time.Millisecond)

	_, err := c.Enqueue(asynq.NewTask("test:critical", nil), asynq.Queue(q.Critical))
	require.NoError(t, err)
	require.Eventually(t, criticalDone.Load, 30*time.Second, 10*time.Millisecond,
		"the critical task waits behind the low backlog")
	require.Zero(t, lowDoneAtCritical.Load(), "no low task finished before the critical one")
	require.Equal(t, want, lowStarted.Load(), "low kept to its own goroutines")

	insp := taskstest.Inspector(t)
	info, err := insp.GetQueueInfo(q.Low)
	require.NoError(t, err)
	require.GreaterOrEqual(t, info.Pending, backlog-int(want), "the low backlog is still queued")

	// One server per queue, each asking only its own queue.
	servers, err := insp.Servers()
	require.NoError(t, err)
	seen := map[string]int{}
	for _, srv := range servers {
		for name := range srv.Queues {
			if slices.Contains(q.All(), name) {
				require.Len(t, srv.Queues, 1, "a server dequeues from exactly one queue")
				seen[name] = srv.Concurrency
			}
		}
	}
	require.Equal(t, q.Concurrency(20), seen)
}
