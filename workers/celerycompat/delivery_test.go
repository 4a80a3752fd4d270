package celerycompat_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/celery"
	"fundigo/workers/celerycompat"
)

func TestPrefetchIsBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, options{tweak: func(c *celerycompat.Config) { c.Concurrency, c.Prefetch = 1, 2 }})
	release := make(chan struct{})
	var started atomic.Int32
	b.start(t, map[string]celerycompat.HandlerFunc{
		"tests.block": func(ctx context.Context, m *celery.Message) (any, error) {
			started.Add(1)
			<-release
			return nil, nil
		},
	})
	for range 5 {
		b.send(t, newMessage(t, "tests.block"))
	}
	require.Eventually(t, func() bool { return started.Load() == 1 && b.ready(t, b.queue) == 3 },
		10*time.Second, 20*time.Millisecond, "only prefetch (2) messages leave the queue while one runs")
	close(release)
	require.Eventually(t, func() bool { return started.Load() == 5 && b.ready(t, b.queue) == 0 },
		10*time.Second, 20*time.Millisecond)
}

// failWrites makes result writes (the store script) fail while on is set:
// a real Redis, with the write refused at the client.
type failWrites struct{ on *atomic.Bool }

func (f failWrites) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f failWrites) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (f failWrites) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.on.Load() && strings.HasPrefix(cmd.Name(), "eval") {
			return errors.New("injected: result backend unavailable")
		}
		return next(ctx, cmd)
	}
}

func TestResultWriteFailureNeverAcks(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	var failing atomic.Bool
	failing.Store(true)
	b.rdb.AddHook(failWrites{on: &failing})
	rec, stop := b.startAdd(t)
	m := newMessage(t, "tests.add", 4)
	b.send(t, m)
	require.Eventually(t, func() bool { return len(rec.calls()) >= 2 }, 10*time.Second, 20*time.Millisecond,
		"a task whose result could not be written is redelivered and run again")
	stop()
	require.Eventually(t, func() bool { return b.ready(t, b.queue) == 1 }, 5*time.Second, 20*time.Millisecond,
		"the task is still in the queue after the worker stops")

	failing.Store(false)
	b.start(t, map[string]celerycompat.HandlerFunc{"tests.add": rec.wrap(add)})
	meta := b.waitState(t, m.ID, celery.StateSuccess, 10*time.Second)
	require.JSONEq(t, `4`, string(meta.Result))
	require.Eventually(t, func() bool { return b.ready(t, b.queue) == 0 }, 5*time.Second, 20*time.Millisecond)
}

func TestQueueWithOtherArgumentsIsConsumedPassively(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	// The Django side configured task_queue_max_priority: its queue has
	// x-max-priority, which a plain declare would fail on (406).
	prio := b.queue + "_prio"
	ch, err := b.conn.Channel(context.Background())
	require.NoError(t, err)
	_, err = ch.QueueDeclare(prio, true, false, false, false, amqp.Table{"x-max-priority": int32(10)})
	require.NoError(t, err)
	require.NoError(t, ch.Close())
	t.Cleanup(func() { deleteQueues(t, prio, prio) })
	b.cfg.Queues = []string{b.queue, prio}

	b.startAdd(t)
	m := newMessage(t, "tests.add", 9)
	b.track(m.ID)
	p, err := m.Publishing()
	require.NoError(t, err)
	require.NoError(t, b.pub.Publish(context.Background(), "", prio, p))
	b.waitState(t, m.ID, celery.StateSuccess, 10*time.Second)
}

func TestShutdownFinishesRunningTaskAndReturnsTheRest(t *testing.T) {
	t.Parallel()
	b := setup(t, options{tweak: func(c *celerycompat.Config) { c.Concurrency, c.Prefetch = 1, 4 }})
	release := make(chan struct{})
	var started atomic.Int32
	stop := b.start(t, map[string]celerycompat.HandlerFunc{
		"tests.block": func(ctx context.Context, m *celery.Message) (any, error) {
			started.Add(1)
			<-release
			return "done", nil
		},
	})
	first := newMessage(t, "tests.block")
	b.send(t, first)
	require.Eventually(t, func() bool { return started.Load() == 1 }, 10*time.Second, 20*time.Millisecond)
	for range 3 {
		b.send(t, newMessage(t, "tests.block"))
	}
	require.Eventually(t, func() bool { return b.ready(t, b.queue) == 0 }, 10*time.Second, 20*time.Millisecond)
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	time.AfterFunc(200*time.Millisecond, func() { close(release) })
	<-stopped
	meta, err := b.backend.Get(context.Background(), first.ID)
	require.NoError(t, err)
	require.Equal(t, celery.StateSuccess, meta.Status, "the running task finished and stored its result before Run returned")
	require.Equal(t, int32(1), started.Load(), "prefetched tasks were not started after shutdown began")
	require.Eventually(t, func() bool { return b.ready(t, b.queue) == 3 }, 5*time.Second, 20*time.Millisecond,
		"prefetched tasks went back to the queue")
}
