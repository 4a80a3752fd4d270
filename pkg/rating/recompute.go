package rating

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"fundigo/pkg/events"
	"fundigo/pkg/tasks"
)

// RecomputeTechnician recomputes one technician with the stored global mean
// and the configured prior weight (one statement that also writes
// rating.updated to the outbox if the numbers changed), then drops its
// cached rating. Idempotent: a rerun finds nothing changed and writes no
// event. The cache is invalidated even when nothing changed, so a retry
// after a failed invalidation still clears a stale entry.
func RecomputeTechnician(ctx context.Context, d Deps, technicianID string) (r events.RatingUpdated, changed bool, err error) {
	s := d.Store()
	m, err := s.GlobalMean(ctx)
	if err != nil {
		return r, false, err
	}
	r, changed, err = s.RecomputeTechnician(ctx, technicianID, RatingParams{GlobalMean: m, PriorWeight: d.Config.PriorWeight})
	if err != nil {
		return r, false, err
	}
	if err := d.Cache.Invalidate(ctx, technicianID); err != nil {
		return r, changed, fmt.Errorf("technician %s: %w", technicianID, err)
	}
	return r, changed, nil
}

// StartRecompute asks for a full recompute under task id id: it records the
// command (a commands row with that id, so GET /v1/tasks/{id} finds it at
// once and shows the progress the worker writes there) and enqueues
// ratings:recompute_all on the low queue with the same task id. reason says
// who asked (logs). Idempotent per id: asking again with an id whose task
// still exists enqueues nothing (a redelivered Celery task). If the enqueue
// fails the command is marked failed and the error returned; a retry with
// the same id starts over. If a run is already in progress, the new task
// resumes it (or reports "busy" while it runs).
func StartRecompute(ctx context.Context, d Deps, id, reason string) error {
	s := d.Store()
	if err := s.RecordCommand(ctx, id, tasks.TypeRatingsRecomputeAll); err != nil {
		return err
	}
	t, err := tasks.NewRecomputeAll(ctx, reason)
	if err == nil {
		_, err = d.Tasks.EnqueueContext(ctx, t, asynq.Queue(d.Queues.Low), asynq.TaskID(id))
	}
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	if err != nil {
		ferr := s.FailCommand(ctx, id, "enqueue failed")
		return fmt.Errorf("enqueue ratings recompute %s: %w", id, errors.Join(err, ferr))
	}
	return nil
}

// RecordProgress mirrors a full recompute's progress into the commands row
// of its task, if there is one (StartRecompute made it; scheduled runs have
// none and this updates nothing). b is p as JSON. Best effort: the task
// result already carries the same JSON.
func RecordProgress(ctx context.Context, d Deps, taskID string, p Progress, b []byte) error {
	if taskID == "" {
		return nil
	}
	state := "active"
	if p.Status != StatusRunning {
		state = "completed"
	}
	return d.Store().SetCommandProgress(ctx, taskID, state, b)
}
