package celerycompat

import (
	"context"
	"fmt"

	"fundigo/pkg/celery"
	"fundigo/pkg/rating"
)

// updateTechnicianRatings is update_technician_ratings(): it starts the
// native full recompute with rating.StartRecompute (the same operation as
// POST /v1/admin/ratings/recompute: a commands row plus ratings:recompute_all
// on the low queue, keyset batches, resumable) under task id
// "celery:<task id>", so a redelivered task enqueues nothing twice. Returns
// {"task_id": …}, readable at GET /v1/tasks/{id}.
func updateTechnicianRatings(d HandlerDeps) HandlerFunc {
	rd := rating.Deps{Pool: d.Pool, Tasks: d.Tasks, Queues: d.Queues}
	return func(ctx context.Context, m *celery.Message) (any, error) {
		if err := signature(m); err != nil {
			return nil, err
		}
		id := "celery:" + m.ID
		if err := rating.StartRecompute(ctx, rd, id, "celery"); err != nil {
			return nil, fmt.Errorf("celery task %s: %w", m.ID, err)
		}
		return map[string]any{"task_id": id}, nil
	}
}
