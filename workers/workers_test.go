package workers

import (
	"bytes"
	"context"
	"errors"
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
