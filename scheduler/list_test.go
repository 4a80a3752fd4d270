package scheduler_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/store"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/scheduler"
)

// newIdle builds a scheduler that is never run, for List and RunNow.
func (b *bundle) newIdle(t *testing.T, schedules []scheduler.Schedule, hasHandler func(string) bool) *scheduler.Scheduler {
	t.Helper()
	s, err := scheduler.New(scheduler.Deps{
		Log: b.log, Pool: b.pool, Redis: taskstest.Redis(t), Tasks: b.client, Inspector: b.insp, Clock: b.clock,
	}, scheduler.Config{Schedules: schedules, LeaseKey: b.leaseKey, HasHandlerFunc: hasHandler})
	require.NoError(t, err)
	return s
}

func TestListShowsRecordsAndMissingHandlers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	has := b.job("has", scheduler.OverlapSkip, scheduler.MissedRunOnce)
	lacks := b.job("lacks", scheduler.OverlapQueue, scheduler.MissedSkip)
	schedules := []scheduler.Schedule{has, lacks}
	hasHandler := func(taskType string) bool { return taskType == has.TaskType }

	// Before any scheduler ran, List still shows every schedule.
	idle := b.newIdle(t, schedules, hasHandler)
	rows, err := idle.List(context.Background())
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Nil(t, rows[0].LastTick)
	require.Equal(t, start.Truncate(time.Minute).Add(time.Minute), rows[0].NextRun.UTC())

	b.startReplica(t, "r0", b.leaseKey, schedules, hasHandler)
	b.waitDeclared(t, has.Name)
	t1 := start.Truncate(time.Minute).Add(time.Minute)
	b.clock.Set(t1)
	require.Eventually(t, func() bool {
		return b.record(t, has.Name).LastOutcome != "" && b.record(t, lacks.Name).LastOutcome != ""
	}, 10*time.Second, 10*time.Millisecond)

	rows, err = idle.List(context.Background())
	require.NoError(t, err)
	require.Len(t, rows, 2)
	byName := map[string]store.Schedule{rows[0].Name: rows[0].Schedule, rows[1].Name: rows[1].Schedule}
	require.True(t, byName["has"].HandlerRegistered)
	require.False(t, byName["lacks"].HandlerRegistered)
	require.Equal(t, "queue", byName["lacks"].Overlap)
	require.Equal(t, "skip", byName["lacks"].Missed)
	for _, r := range rows {
		require.Equal(t, t1, r.LastTick.UTC(), r.Name)
		require.Equal(t, store.ScheduleEnqueued, r.LastOutcome, r.Name)
		require.Equal(t, t1.Add(time.Minute), r.NextRun.UTC(), r.Name)
		require.Equal(t, "* * * * *", r.Spec)
		require.Equal(t, 10*time.Second, r.Timeout)
	}
	// The declared rows (what the API lists) say the same.
	stored, err := b.records.List(context.Background())
	require.NoError(t, err)
	require.Len(t, stored, 2)
	require.Equal(t, "has", stored[0].Name)
	require.True(t, stored[0].HandlerRegistered)
	require.False(t, stored[1].HandlerRegistered)

	var out bytes.Buffer
	require.NoError(t, scheduler.WriteTable(&out, rows))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3)
	require.Contains(t, lines[0], "NEXT RUN")
	require.Contains(t, out.String(), "MISSING")
	require.Contains(t, out.String(), "2030-01-01 00:02:00 UTC")
	require.Contains(t, out.String(), "enqueued")
}

func TestRunNowEnqueuesAManualRunAndRecordsItsOutcome(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ok := b.job("ok", scheduler.OverlapSkip, scheduler.MissedRunOnce)
	bad := b.job("bad", scheduler.OverlapSkip, scheduler.MissedRunOnce)
	schedules := []scheduler.Schedule{ok, bad}
	s := b.serve(t, schedules, func(_ context.Context, task *asynq.Task) error {
		if task.Type() == bad.TaskType {
			return errors.New("boom")
		}
		return nil
	})
	b.startReplica(t, "r0", b.leaseKey, schedules, nil)
	b.waitDeclared(t, ok.Name)
	b.waitDeclared(t, bad.Name)
	idle := b.newIdle(t, schedules, nil)

	id, err := idle.RunNow(context.Background(), ok.Name)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(id, "ok:manual:"), id)
	b.waitCompleted(t, b.queues.Default, id, 10*time.Second)
	require.Eventually(t, func() bool {
		rec := b.record(t, ok.Name)
		return rec.LastRunTaskID == id && rec.LastRunStatus == store.ScheduleSucceeded && rec.LastDuration != nil
	}, 5*time.Second, 10*time.Millisecond)
	rec := b.record(t, ok.Name)
	require.Equal(t, id, rec.LastTaskID, "the overlap check sees manual runs")
	require.Nil(t, rec.LastTick, "a manual run is not a tick")

	badID, err := idle.RunNow(context.Background(), bad.Name)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		rec := b.record(t, bad.Name)
		return rec.LastRunTaskID == badID && rec.LastRunStatus == store.ScheduleFailed
	}, 10*time.Second, 10*time.Millisecond)
	require.Contains(t, b.record(t, bad.Name).LastRunError, "boom")

	// A task of the same type that the scheduler did not enqueue is not
	// recorded as a run of the schedule.
	_, err = b.client.Enqueue(asynq.NewTask(ok.TaskType, nil), asynq.Queue(b.queues.Default), asynq.TaskID("other"),
		asynq.Retention(time.Minute))
	require.NoError(t, err)
	b.waitCompleted(t, b.queues.Default, "other", 10*time.Second)
	require.Equal(t, id, b.record(t, ok.Name).LastRunTaskID)
	require.Equal(t, 1, s.snapshot()["other"])

	_, err = idle.RunNow(context.Background(), "nope")
	require.ErrorIs(t, err, scheduler.ErrUnknownSchedule)
}
