package celerycompat

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"fundigo/pkg/celery"
	"fundigo/pkg/tasks"
)

// updateTechnicianRatings is update_technician_ratings(): it enqueues the
// native full recompute (ratings:recompute_all, keyset batches, resumable)
// on the low queue under task id "celery:<task id>", so a redelivered task
// enqueues nothing twice. Returns {"task_id": …}, readable at
// GET /v1/tasks/{id}.
func updateTechnicianRatings(d HandlerDeps) HandlerFunc {
	return func(ctx context.Context, m *celery.Message) (any, error) {
		if err := signature(m); err != nil {
			return nil, err
		}
		task, err := tasks.NewRecomputeAll("celery")
		if err != nil {
			return nil, err
		}
		id := "celery:" + m.ID
		_, err = d.Tasks.EnqueueContext(ctx, task, asynq.Queue(d.Queues.Low), asynq.TaskID(id))
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return nil, fmt.Errorf("enqueue rating recompute for celery task %s: %w", m.ID, err)
		}
		return map[string]any{"task_id": id}, nil
	}
}
