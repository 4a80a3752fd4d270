package celerycompat_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/celery"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/workers/celerycompat"
)

func TestETAIsParkedNotHeld(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	rec, _ := b.startAdd(t)
	m := newMessage(t, "tests.add", 20, 22)
	m.ETA = time.Now().Add(2 * time.Second)
	b.send(t, m)

	// While waiting, the message is acked (not in RabbitMQ, not held) and
	// sits in Redis as a scheduled Asynq task.
	insp := taskstest.Inspector(t)
	require.Eventually(t, func() bool {
		scheduled, err := insp.ListScheduledTasks(b.asynqQ.Default)
		return err == nil && len(scheduled) == 1 && b.ready(t, b.queue) == 0
	}, 5*time.Second, 20*time.Millisecond)
	require.Empty(t, rec.calls(), "nothing runs before the eta")

	meta := b.waitState(t, m.ID, celery.StateSuccess, 10*time.Second)
	require.JSONEq(t, `42`, string(meta.Result))
	at := rec.times()
	require.Len(t, at, 1)
	require.False(t, at[0].Before(m.ETA), "ran at %s, before its eta %s", at[0], m.ETA)
}

func TestETASurvivesWorkerRestart(t *testing.T) {
	t.Parallel()
	b := setup(t, options{noAsynqServer: true})
	var first recorder
	stop := b.start(t, map[string]celerycompat.HandlerFunc{"tests.add": first.wrap(add)})
	m := newMessage(t, "tests.add", 1, 1)
	m.ETA = time.Now().Add(time.Second)
	b.send(t, m)
	insp := taskstest.Inspector(t)
	require.Eventually(t, func() bool {
		scheduled, err := insp.ListScheduledTasks(b.asynqQ.Default)
		return err == nil && len(scheduled) == 1 && b.ready(t, b.queue) == 0
	}, 5*time.Second, 20*time.Millisecond)
	stop() // the worker process goes away with the message acked

	// A new worker (Asynq server and consumer) delivers it.
	b.serveAsynq(t)
	var second recorder
	b.start(t, map[string]celerycompat.HandlerFunc{"tests.add": second.wrap(add)})
	meta := b.waitState(t, m.ID, celery.StateSuccess, 15*time.Second)
	require.JSONEq(t, `2`, string(meta.Result))
	require.Empty(t, first.calls())
	require.Len(t, second.calls(), 1)
}

func TestETARedeliveryParksOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	rec, _ := b.startAdd(t)
	m := newMessage(t, "tests.add", 3)
	m.ETA = time.Now().Add(1500 * time.Millisecond)
	b.send(t, m)
	b.send(t, m) // a duplicate (publisher retry, or a redelivery) of the same message
	b.waitState(t, m.ID, celery.StateSuccess, 10*time.Second)
	marker := newMessage(t, "tests.add", 0)
	b.send(t, marker)
	b.waitState(t, marker.ID, celery.StateSuccess, 10*time.Second)
	n := 0
	for _, c := range rec.calls() {
		if c.ID == m.ID {
			n++
		}
	}
	require.Equal(t, 1, n, "two copies of one ETA message run once")
}

func TestShortETAIsHeldBriefly(t *testing.T) {
	t.Parallel()
	b := setup(t, options{tweak: func(c *celerycompat.Config) { c.HoldETA = 5 * time.Second }})
	rec, _ := b.startAdd(t)
	m := newMessage(t, "tests.add", 1)
	m.ETA = time.Now().Add(500 * time.Millisecond)
	b.send(t, m)
	b.waitState(t, m.ID, celery.StateSuccess, 10*time.Second)
	require.False(t, rec.times()[0].Before(m.ETA))
	scheduled, err := taskstest.Inspector(t).ListScheduledTasks(b.asynqQ.Default)
	if !errors.Is(err, asynq.ErrQueueNotFound) {
		require.NoError(t, err)
	}
	require.Empty(t, scheduled, "an eta within HoldETA is not parked")
}

func TestExpiredTaskIsRevokedNotRun(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	rec, _ := b.startAdd(t)

	expired := newMessage(t, "tests.add", 1)
	expired.Expires = time.Now().Add(-time.Second)
	b.send(t, expired)
	meta := b.waitState(t, expired.ID, celery.StateRevoked, 10*time.Second)
	exc, err := meta.Exception()
	require.NoError(t, err)
	require.Equal(t, celery.TaskRevokedError("expired"), exc)
	require.NotNil(t, meta.DateDone)

	// An eta past the expiry: parked, then revoked when due.
	late := newMessage(t, "tests.add", 1)
	late.ETA = time.Now().Add(time.Second)
	late.Expires = time.Now().Add(500 * time.Millisecond)
	b.send(t, late)
	b.waitState(t, late.ID, celery.StateRevoked, 10*time.Second)

	fresh := newMessage(t, "tests.add", 1)
	fresh.Expires = time.Now().Add(time.Minute)
	b.send(t, fresh)
	b.waitState(t, fresh.ID, celery.StateSuccess, 10*time.Second)
	for _, c := range rec.calls() {
		require.Equal(t, fresh.ID, c.ID, "expired tasks never run")
	}
}

func TestETAClockSkewIsWaitedOut(t *testing.T) {
	t.Parallel()
	// This worker's clock is 3 s behind the Asynq host's: a parked message
	// comes back "early" and must be waited for, not parked again or dropped.
	b := setup(t, options{tweak: func(c *celerycompat.Config) {
		c.Now = func() time.Time { return time.Now().Add(-3 * time.Second) }
	}})
	rec, _ := b.startAdd(t)
	m := newMessage(t, "tests.add", 7)
	m.ETA = time.Now().Add(time.Second)
	b.send(t, m)
	b.waitState(t, m.ID, celery.StateSuccess, 15*time.Second)
	require.Len(t, rec.calls(), 1)
	require.False(t, rec.times()[0].Before(m.ETA.Add(3*time.Second)), "ran by the skewed clock's eta")
}
