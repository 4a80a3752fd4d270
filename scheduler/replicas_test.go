package scheduler_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/store"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/scheduler"
)

// ticker advances the bundle's clock one minute at a time and waits until the
// tick's task has run, collecting the expected task IDs.
type ticker struct {
	b    *bundle
	name string
	tick time.Time
	want []string
}

func (k *ticker) next(t *testing.T, within time.Duration) string {
	t.Helper()
	k.tick = k.tick.Add(time.Minute)
	k.b.clock.Set(k.tick)
	id := scheduler.TickTaskID(k.name, k.tick)
	k.b.waitCompleted(t, k.b.queues.Default, id, within)
	k.want = append(k.want, id)
	return id
}

// requireOncePerTick checks that every tick ran exactly once and that exactly
// one enqueue was made per tick (a replica that tried a second one would log
// a duplicate).
func requireOncePerTick(t *testing.T, b *bundle, s *seen, k *ticker) map[string]map[string]int {
	t.Helper()
	got := s.snapshot()
	require.Len(t, got, len(k.want), "processed tasks: %v", got)
	for _, id := range k.want {
		require.Equal(t, 1, got[id], "task %s", id)
	}
	logged := b.logs.ticks(t)
	require.Len(t, logged[string(store.ScheduleEnqueued)], len(k.want))
	for tick, n := range logged[string(store.ScheduleEnqueued)] {
		require.Equal(t, 1, n, "tick %s enqueued %d times", tick, n)
	}
	require.Empty(t, logged[string(store.ScheduleSkippedMissed)], "no tick may be missed")
	require.Empty(t, logged[string(store.ScheduleSkippedOverlap)])
	require.Empty(t, logged[string(store.ScheduleError)])
	return logged
}

func TestThreeReplicasEnqueueEveryTickOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	job := b.job("job", scheduler.OverlapSkip, scheduler.MissedRunOnce)
	schedules := []scheduler.Schedule{job}
	s := b.serve(t, schedules, nil)
	for i := range 3 {
		b.startReplica(t, fmt.Sprintf("r%d", i), b.leaseKey, schedules, nil)
	}
	b.waitDeclared(t, job.Name)

	k := &ticker{b: b, name: job.Name, tick: start.Truncate(time.Minute)}
	for range 40 {
		k.next(t, 10*time.Second)
	}

	logged := requireOncePerTick(t, b, s, k)
	require.Empty(t, logged[string(store.ScheduleDuplicate)], "only the leader enqueues")
	rec := b.record(t, job.Name)
	require.Equal(t, k.tick, rec.LastTick.UTC())
	require.Equal(t, store.ScheduleEnqueued, rec.LastOutcome)
	require.Equal(t, k.want[len(k.want)-1], rec.LastTaskID)
	require.Equal(t, k.tick.Add(time.Minute), rec.NextRun.UTC())
	require.Equal(t, k.tick, rec.LastEnqueuedAt.UTC())
	require.Eventually(t, func() bool {
		rec := b.record(t, job.Name)
		return rec.LastRunTaskID == k.want[len(k.want)-1] && rec.LastRunStatus == store.ScheduleSucceeded
	}, 5*time.Second, 10*time.Millisecond)
	require.NotNil(t, b.record(t, job.Name).LastDuration)
}

func TestLeaderCrashHandsOverWithinLeaseWithoutDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	job := b.job("job", scheduler.OverlapSkip, scheduler.MissedRunOnce)
	schedules := []scheduler.Schedule{job}
	s := b.serve(t, schedules, nil)
	replicas := map[string]*replica{}
	for i := range 3 {
		id := fmt.Sprintf("r%d", i)
		replicas[id] = b.startReplica(t, id, b.leaseKey, schedules, nil)
	}
	b.waitDeclared(t, job.Name)
	k := &ticker{b: b, name: job.Name, tick: start.Truncate(time.Minute)}
	for range 5 {
		k.next(t, 10*time.Second)
	}

	rdb := taskstest.Redis(t)
	old := b.leader(t, rdb)
	require.Contains(t, replicas, old)
	// Crash the leader: its lease connection dies first, so it can neither
	// renew nor release the lease, then the process stops.
	require.NoError(t, replicas[old].rdb.Close())
	crashed := time.Now()
	replicas[old].stop(t)
	require.Equal(t, old, b.leader(t, rdb), "a crashed leader leaves its lease to expire")

	// The next tick is enqueued by a successor once the lease has expired.
	k.next(t, 10*time.Second)
	handover := time.Since(crashed)
	successor := b.leader(t, rdb)
	require.NotEqual(t, old, successor)
	require.Contains(t, replicas, successor)
	t.Logf("lease ttl 1s, renew every 333ms: tick handled by %s %s after the crash", successor, handover)
	require.Less(t, handover, time.Second+time.Second/3+2*time.Second, "handover within lease ttl + renew interval (+ slack)")

	for range 10 {
		k.next(t, 10*time.Second)
	}
	logged := requireOncePerTick(t, b, s, k)
	require.Empty(t, logged[string(store.ScheduleDuplicate)])
}

func TestSplitBrainStillEnqueuesEachTickOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	job := b.job("job", scheduler.OverlapSkip, scheduler.MissedRunOnce)
	schedules := []scheduler.Schedule{job}
	s := b.serve(t, schedules, nil)
	// Two replicas with different lease keys both lead at once: only the
	// deterministic task ID stands between them and a double enqueue.
	b.startReplica(t, "a", b.leaseKey+":a", schedules, nil)
	b.startReplica(t, "b", b.leaseKey+":b", schedules, nil)
	rdb := taskstest.Redis(t)
	require.Eventually(t, func() bool {
		n, err := rdb.Exists(t.Context(), b.leaseKey+":a", b.leaseKey+":b").Result()
		return err == nil && n == 2
	}, 10*time.Second, 10*time.Millisecond)
	b.waitDeclared(t, job.Name)
	k := &ticker{b: b, name: job.Name, tick: start.Truncate(time.Minute)}
	for range 20 {
		k.next(t, 10*time.Second)
	}
	logged := requireOncePerTick(t, b, s, k)
	dups := 0
	for _, n := range logged[string(store.ScheduleDuplicate)] {
		dups += n
	}
	t.Logf("second leader hit a task id conflict on %d of %d ticks", dups, len(k.want))
	require.Positive(t, dups, "both leaders raced for ticks")
}

// TestStandbyWarnsOnceThatAnotherInstanceLeads is issue #13 item 5: a
// scheduler that finds the lease held under its key (a replica, or a second
// development instance sharing Redis by mistake) says so once, naming the
// leader and the variables that would separate it.
func TestStandbyWarnsOnceThatAnotherInstanceLeads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	job := b.job("job", scheduler.OverlapSkip, scheduler.MissedRunOnce)
	schedules := []scheduler.Schedule{job}
	b.serve(t, schedules, nil)
	b.startReplica(t, "first", b.leaseKey, schedules, nil)
	b.waitDeclared(t, job.Name) // first leads
	b.startReplica(t, "second", b.leaseKey, schedules, nil)

	standby := func() []map[string]any {
		var out []map[string]any
		for _, l := range b.logs.lines(t) {
			if strings.HasPrefix(fmt.Sprint(l["message"]), "another scheduler instance holds the leader lease") {
				out = append(out, l)
			}
		}
		return out
	}
	require.Eventually(t, func() bool { return len(standby()) == 1 }, 10*time.Second, 20*time.Millisecond)
	w := standby()[0]
	require.Equal(t, "warn", w["level"])
	require.Equal(t, "second", w["instance"])
	require.Equal(t, "first", w["leader"])
	require.Contains(t, w["message"], "FUNDIGO_REDIS_KEY_PREFIX")
	// The standby keeps renewing its attempt every beat; the warning is not
	// repeated.
	time.Sleep(2 * time.Second) // several beats of a 1 s lease
	require.Len(t, standby(), 1, "warned once")
}
