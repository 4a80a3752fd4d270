package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
)

func TestScheduleTicksOnlyMoveForward(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := store.NewSchedules(storetest.NewPool(t))
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	def := store.ScheduleDefinition{Name: "job", Spec: "* * * * *", TimeZone: "UTC", TaskType: "t",
		Queue: "q", Timeout: time.Second, Overlap: "skip", Missed: "run_once"}
	require.NoError(t, s.Declare(ctx, []store.ScheduleDefinition{def}, t0))
	def.HandlerRegistered = true
	require.NoError(t, s.Declare(ctx, []store.ScheduleDefinition{def}, t0.Add(time.Hour)))
	rec, err := s.Get(ctx, "job")
	require.NoError(t, err)
	require.Equal(t, t0, rec.CreatedAt.UTC(), "created_at is kept on re-declare")
	require.True(t, rec.HandlerRegistered)

	tick := func(at time.Time, o store.ScheduleOutcome, id string) store.ScheduleTick {
		return store.ScheduleTick{Name: "job", Tick: at, At: at, TaskID: id, Outcome: o, NextRun: at.Add(time.Minute)}
	}
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)

	// A duplicate seen first is overwritten by the enqueue of the same tick…
	require.NoError(t, s.RecordTick(ctx, tick(t1, store.ScheduleDuplicate, "job:t1")))
	require.NoError(t, s.RecordTick(ctx, tick(t1, store.ScheduleEnqueued, "job:t1")))
	// …but never the other way round.
	require.ErrorIs(t, s.RecordTick(ctx, tick(t1, store.ScheduleDuplicate, "job:t1")), store.ErrStaleTransition)
	require.ErrorIs(t, s.RecordTick(ctx, tick(t1, store.ScheduleSkippedOverlap, "")), store.ErrStaleTransition)
	rec, _ = s.Get(ctx, "job")
	require.Equal(t, store.ScheduleEnqueued, rec.LastOutcome)
	require.Equal(t, t1, rec.LastEnqueuedAt.UTC())

	// An error does not move last_tick (the tick is retried).
	err = s.RecordTick(ctx, store.ScheduleTick{Name: "job", Tick: t2, Outcome: store.ScheduleError, Err: "redis down"})
	require.NoError(t, err)
	rec, _ = s.Get(ctx, "job")
	require.Equal(t, t1, rec.LastTick.UTC())
	require.Equal(t, store.ScheduleError, rec.LastOutcome)
	require.Equal(t, "redis down", rec.LastError)

	require.NoError(t, s.RecordTick(ctx, tick(t2, store.ScheduleSkippedOverlap, "")))
	// An older tick from a late replica changes nothing.
	require.ErrorIs(t, s.RecordTick(ctx, tick(t1, store.ScheduleEnqueued, "job:t1")), store.ErrStaleTransition)
	rec, _ = s.Get(ctx, "job")
	require.Equal(t, t2, rec.LastTick.UTC())
	require.Equal(t, "job:t1", rec.LastTaskID, "a skip keeps the last task id for the overlap check")
	require.Empty(t, rec.LastError)

	// Run records: an older run ending late does not overwrite a newer one.
	require.NoError(t, s.RecordRunStart(ctx, "job", "job:a", t1))
	require.NoError(t, s.RecordRunStart(ctx, "job", "job:b", t2))
	require.NoError(t, s.RecordRunEnd(ctx, "job", "job:a", time.Second, nil))
	rec, _ = s.Get(ctx, "job")
	require.Equal(t, "job:b", rec.LastRunTaskID)
	require.Equal(t, store.ScheduleRunning, rec.LastRunStatus)
	require.Nil(t, rec.LastDuration)

	require.ErrorIs(t, s.RecordManualRun(ctx, "nope", "x", t2), store.ErrNotFound)
	_, err = s.Get(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
}
