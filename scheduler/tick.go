package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"fundigo/pkg/logging"
	"fundigo/pkg/store"
)

// Payload is the body of every task the scheduler enqueues. Handlers may
// ignore it; it tells them which tick (or manual run) they serve.
type Payload struct {
	Schedule string    `json:"schedule"`
	Tick     time.Time `json:"tick"`
	Manual   bool      `json:"manual,omitempty"`
}

// fireDue handles every schedule whose next tick has come, as long as the
// lease is still valid.
func (s *Scheduler) fireDue(ctx context.Context, validUntil time.Time) {
	for _, e := range s.entries {
		st := s.state[e.Name]
		if st == nil || st.next.IsZero() || st.next.After(s.clock.Now()) {
			continue
		}
		if ctx.Err() != nil || !time.Now().Before(validUntil) {
			return
		}
		s.handle(ctx, e, st, validUntil)
	}
}

// handle acts on one due schedule: re-read its record (another replica may
// have moved it on), plan the tick, check overlap, enqueue, record.
func (s *Scheduler) handle(ctx context.Context, e entry, st *entryState, validUntil time.Time) {
	log := s.log.With().Str(logging.FieldSchedule, e.Name).Logger()
	rec, err := s.records.Get(ctx, e.Name)
	if err != nil {
		st.failed = true
		log.Warn().Err(err).Msg("read schedule record")
		return
	}
	now := s.clock.Now()
	p := planTick(e, baseOf(rec.CreatedAt, rec.LastTick), now, s.cfg.MissedGrace)
	if p.tick.IsZero() {
		st.next, st.failed = p.next, false
		return
	}
	t := store.ScheduleTick{Name: e.Name, Tick: p.tick, At: now, NextRun: p.next}
	switch {
	case !p.enqueue:
		t.Outcome = store.ScheduleSkippedMissed
	case e.Overlap == OverlapSkip:
		running, err := s.stillRunning(e.Queue, rec.LastTaskID)
		if err != nil {
			t.Outcome, t.Err = store.ScheduleError, err.Error()
			break
		}
		if running {
			t.Outcome = store.ScheduleSkippedOverlap
			break
		}
		fallthrough
	default:
		if !time.Now().Before(validUntil) {
			return // lost the lease meanwhile; the next leader handles the tick
		}
		t.TaskID = TickTaskID(e.Name, p.tick)
		t.Outcome, t.Err = s.enqueue(ctx, e, t.TaskID, Payload{Schedule: e.Name, Tick: p.tick.UTC()}, e.retention)
		if t.Outcome != store.ScheduleEnqueued && t.Outcome != store.ScheduleDuplicate {
			t.TaskID = ""
		}
	}
	s.record(ctx, log, t, p.missed)
	if t.Outcome == store.ScheduleError {
		st.failed = true
		return
	}
	st.next, st.failed = p.next, false
}

// enqueue enqueues one run of e under taskID, keeping the finished task (and
// so its ID) for retention. A task ID conflict means the tick (or run) is
// already enqueued: a duplicate, not an error.
func (s *Scheduler) enqueue(ctx context.Context, e entry, taskID string, p Payload, retention time.Duration) (store.ScheduleOutcome, string) {
	body, err := json.Marshal(p)
	if err != nil {
		return store.ScheduleError, fmt.Sprintf("encode payload: %v", err)
	}
	_, err = s.tasks.EnqueueContext(ctx, asynq.NewTask(e.TaskType, body),
		asynq.Queue(e.Queue), asynq.TaskID(taskID), asynq.Timeout(e.Timeout),
		asynq.MaxRetry(e.MaxRetry), asynq.Retention(retention))
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		return store.ScheduleDuplicate, ""
	case err != nil:
		return store.ScheduleError, fmt.Sprintf("enqueue %s: %v", taskID, err)
	}
	return store.ScheduleEnqueued, ""
}

// stillRunning reports whether the task taskID is pending, active, scheduled,
// retrying or aggregating in queue. A task Asynq no longer knows has ended.
func (s *Scheduler) stillRunning(queue, taskID string) (bool, error) {
	if taskID == "" {
		return false, nil
	}
	info, err := s.inspect.GetTaskInfo(queue, taskID)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("inspect task %s: %w", taskID, err)
	}
	return info.State != asynq.TaskStateCompleted && info.State != asynq.TaskStateArchived, nil
}

// record writes the tick's outcome and logs it once.
func (s *Scheduler) record(ctx context.Context, log zerolog.Logger, t store.ScheduleTick, missed bool) {
	err := s.records.RecordTick(ctx, t)
	if errors.Is(err, store.ErrStaleTransition) {
		err = nil // a newer tick is recorded already; ours changes nothing
	}
	ev := log.Info()
	switch {
	case t.Outcome == store.ScheduleError || err != nil:
		ev = log.Warn().Err(errors.Join(err, errorOf(t.Err)))
	case t.Outcome == store.ScheduleDuplicate:
		ev = log.Debug()
	}
	ev.Str(logging.FieldTaskID, t.TaskID).Time("tick", t.Tick.UTC()).Bool("missed", missed).
		Str("outcome", string(t.Outcome)).Msg("schedule tick")
}

func errorOf(msg string) error {
	if msg == "" {
		return nil
	}
	return errors.New(msg)
}
