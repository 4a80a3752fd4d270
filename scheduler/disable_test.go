package scheduler_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/store"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/scheduler"
)

// TestDisabledScheduleIsNotEnqueued: a schedule named in Config.Disabled
// is declared and listed as disabled, but its ticks are never enqueued,
// while the other schedules tick as usual.
func TestDisabledScheduleIsNotEnqueued(t *testing.T) {
	t.Parallel()
	b := setup(t)
	on := b.job("on", scheduler.OverlapSkip, scheduler.MissedRunOnce)
	off := b.job("off", scheduler.OverlapSkip, scheduler.MissedRunOnce)
	schedules := []scheduler.Schedule{on, off}
	s, err := scheduler.New(scheduler.Deps{
		Log: b.log, Pool: b.pool, Redis: taskstest.Redis(t), Tasks: b.client, Inspector: b.insp, Clock: b.clock,
	}, scheduler.Config{Schedules: schedules, LeaseKey: b.leaseKey, LeaseTTL: time.Second, InstanceID: "r0",
		Disabled: []string{off.Name}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	b.waitDeclared(t, on.Name)
	b.waitDeclared(t, off.Name)

	t1 := start.Truncate(time.Minute).Add(time.Minute)
	b.clock.Set(t1)
	require.Eventually(t, func() bool { return b.record(t, on.Name).LastOutcome == store.ScheduleEnqueued },
		10*time.Second, 10*time.Millisecond)
	b.clock.Set(t1.Add(time.Minute))
	require.Eventually(t, func() bool { return b.record(t, on.Name).LastTick.Equal(t1.Add(time.Minute)) },
		10*time.Second, 10*time.Millisecond)
	rec := b.record(t, off.Name)
	require.Nil(t, rec.LastTick, "a disabled schedule never ticks")
	require.Empty(t, rec.LastTaskID)
	require.Zero(t, b.taskState(b.queues.Default, scheduler.TickTaskID(off.Name, t1)), "nothing enqueued for it")

	rows, err := s.List(context.Background())
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.False(t, rows[0].Disabled)
	require.NotNil(t, rows[0].NextRun)
	require.True(t, rows[1].Disabled)
	require.Nil(t, rows[1].NextRun, "no next run while disabled")
	var out bytes.Buffer
	require.NoError(t, scheduler.WriteTable(&out, rows))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3)
	require.Contains(t, lines[2], "off")
	require.Contains(t, lines[2], "disabled")
	require.NotContains(t, lines[1], "disabled")
}

// TestDisablingAnUnknownScheduleNamesTheKnownOnes: a typo in the switch is
// an error at startup that lists the declared names.
func TestDisablingAnUnknownScheduleNamesTheKnownOnes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	schedules := []scheduler.Schedule{b.job("a:one", scheduler.OverlapSkip, scheduler.MissedRunOnce),
		b.job("b:two", scheduler.OverlapSkip, scheduler.MissedRunOnce)}
	_, err := scheduler.New(scheduler.Deps{
		Log: b.log, Pool: b.pool, Redis: taskstest.Redis(t), Tasks: b.client, Inspector: b.insp, Clock: b.clock,
	}, scheduler.Config{Schedules: schedules, LeaseKey: b.leaseKey, Disabled: []string{"a:one", "c:three"}})
	require.ErrorIs(t, err, scheduler.ErrUnknownSchedule)
	require.ErrorContains(t, err, `"c:three"`)
	require.ErrorContains(t, err, "known: a:one, b:two")
	require.NotContains(t, err.Error(), `"a:one"`, "only the unknown name is reported")
}
