package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/store"
	"fundigo/scheduler"
)

func TestOverlapSkipsWhilePreviousRunIsActiveUnlessQueued(t *testing.T) {
	t.Parallel()
	b := setup(t)
	skip := b.job("skip", scheduler.OverlapSkip, scheduler.MissedRunOnce)
	queue := b.job("queue", scheduler.OverlapQueue, scheduler.MissedRunOnce)
	schedules := []scheduler.Schedule{skip, queue}
	release := make(chan struct{})
	s := b.serve(t, schedules, func(ctx context.Context, _ *asynq.Task) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	b.startReplica(t, "r0", b.leaseKey, schedules, nil)
	b.waitDeclared(t, skip.Name)
	b.waitDeclared(t, queue.Name)
	q := b.queues.Default

	t1 := start.Truncate(time.Minute).Add(time.Minute)
	b.clock.Set(t1)
	for _, name := range []string{skip.Name, queue.Name} {
		id := scheduler.TickTaskID(name, t1)
		require.Eventually(t, func() bool { return b.taskState(q, id) == asynq.TaskStateActive },
			10*time.Second, 10*time.Millisecond, "first run of %s should be running", name)
	}

	t2 := t1.Add(time.Minute)
	b.clock.Set(t2)
	require.Eventually(t, func() bool {
		rec := b.record(t, skip.Name)
		return rec.LastTick != nil && rec.LastTick.Equal(t2) && rec.LastOutcome == store.ScheduleSkippedOverlap
	}, 10*time.Second, 10*time.Millisecond)
	require.Zero(t, b.taskState(q, scheduler.TickTaskID(skip.Name, t2)), "an overlapping tick is not enqueued")
	require.Equal(t, scheduler.TickTaskID(skip.Name, t1), b.record(t, skip.Name).LastTaskID)
	require.Eventually(t, func() bool {
		st := b.taskState(q, scheduler.TickTaskID(queue.Name, t2))
		return st == asynq.TaskStatePending || st == asynq.TaskStateActive
	}, 10*time.Second, 10*time.Millisecond, "overlap queue enqueues the tick although the previous run is still active")
	require.Equal(t, asynq.TaskStateActive, b.taskState(q, scheduler.TickTaskID(queue.Name, t1)))

	close(release)
	b.waitCompleted(t, q, scheduler.TickTaskID(skip.Name, t1), 10*time.Second)
	b.waitCompleted(t, q, scheduler.TickTaskID(queue.Name, t2), 10*time.Second)

	// Once the run is over, the next tick runs again.
	t3 := t2.Add(time.Minute)
	b.clock.Set(t3)
	b.waitCompleted(t, q, scheduler.TickTaskID(skip.Name, t3), 10*time.Second)
	require.Equal(t, store.ScheduleEnqueued, b.record(t, skip.Name).LastOutcome)
	require.Equal(t, map[string]int{
		scheduler.TickTaskID(skip.Name, t1): 1, scheduler.TickTaskID(skip.Name, t3): 1,
		scheduler.TickTaskID(queue.Name, t1): 1, scheduler.TickTaskID(queue.Name, t2): 1,
		scheduler.TickTaskID(queue.Name, t3): 1,
	}, waitLen(t, s, 5))
}

// waitLen waits until the worker processed n tasks and returns them.
func waitLen(t *testing.T, s *seen, n int) map[string]int {
	t.Helper()
	require.Eventually(t, func() bool { return len(s.snapshot()) >= n }, 10*time.Second, 10*time.Millisecond)
	return s.snapshot()
}

func TestMissedTicksRunOnceOrSkipNeverBurst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	once := b.job("once", scheduler.OverlapSkip, scheduler.MissedRunOnce)
	skip := b.job("skip", scheduler.OverlapSkip, scheduler.MissedSkip)
	schedules := []scheduler.Schedule{once, skip}
	s := b.serve(t, schedules, nil)
	q := b.queues.Default

	r := b.startReplica(t, "r0", b.leaseKey, schedules, nil)
	b.waitDeclared(t, once.Name)
	b.waitDeclared(t, skip.Name)
	t1 := start.Truncate(time.Minute).Add(time.Minute)
	b.clock.Set(t1)
	b.waitCompleted(t, q, scheduler.TickTaskID(once.Name, t1), 10*time.Second)
	b.waitCompleted(t, q, scheduler.TickTaskID(skip.Name, t1), 10*time.Second)
	r.stop(t)

	// Outage: nobody runs for over three hours (197 ticks); the clock comes
	// back 45 s after the latest tick, later than the 30 s grace.
	back := time.Date(2030, 1, 1, 3, 18, 45, 0, time.UTC)
	latest := time.Date(2030, 1, 1, 3, 18, 0, 0, time.UTC)
	b.clock.Set(back)
	b.startReplica(t, "r1", b.leaseKey, schedules, nil)

	b.waitCompleted(t, q, scheduler.TickTaskID(once.Name, latest), 10*time.Second)
	require.Eventually(t, func() bool {
		rec := b.record(t, skip.Name)
		return rec.LastTick.Equal(latest) && rec.LastOutcome == store.ScheduleSkippedMissed
	}, 10*time.Second, 10*time.Millisecond)
	rec := b.record(t, once.Name)
	require.Equal(t, latest, rec.LastTick.UTC())
	require.Equal(t, store.ScheduleEnqueued, rec.LastOutcome)
	require.Equal(t, latest.Add(time.Minute), b.record(t, skip.Name).NextRun.UTC())

	// Both resume on time at the next tick.
	t2 := latest.Add(time.Minute)
	b.clock.Set(t2)
	b.waitCompleted(t, q, scheduler.TickTaskID(once.Name, t2), 10*time.Second)
	b.waitCompleted(t, q, scheduler.TickTaskID(skip.Name, t2), 10*time.Second)

	require.Equal(t, map[string]int{
		scheduler.TickTaskID(once.Name, t1): 1, scheduler.TickTaskID(once.Name, latest): 1,
		scheduler.TickTaskID(once.Name, t2): 1,
		scheduler.TickTaskID(skip.Name, t1): 1, scheduler.TickTaskID(skip.Name, t2): 1,
	}, s.snapshot(), "one catch-up run for run_once, none for skip, no burst")
	logged := b.logs.ticks(t)
	require.Equal(t, map[string]int{rfc(latest): 1}, logged[string(store.ScheduleSkippedMissed)])
}
