package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/tasks"
)

// recomputeAccepted is the 202 body of POST /v1/admin/ratings/recompute.
type recomputeAccepted struct {
	TaskID    string `json:"task_id"`
	Status    string `json:"status"`
	StatusURL string `json:"status_url"`
}

// handleRecomputeRatings enqueues a full ratings recompute and answers 202
// with its task id. A commands row (id = task id) is committed first, so
// GET /v1/tasks/{id} finds the command at once and shows the progress the
// worker writes there (and into the task result). If a run is already in
// progress, the new task resumes it (or reports "busy" while it runs).
func handleRecomputeRatings(pool *pgxpool.Pool, tc *asynq.Client, queue string) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		id := uuid.NewString()
		if _, err := pool.Exec(ctx, `INSERT INTO commands (id, kind) VALUES ($1, $2)`, id, tasks.TypeRatingsRecomputeAll); err != nil {
			return fmt.Errorf("record recompute command: %w", err)
		}
		t, err := tasks.NewRecomputeAll("admin:" + principalName(c))
		if err == nil {
			_, err = tc.EnqueueContext(ctx, t, asynq.Queue(queue), asynq.TaskID(id))
		}
		if err != nil {
			_, uerr := pool.Exec(ctx, `UPDATE commands SET state = 'failed', error = 'enqueue failed', updated_at = now() WHERE id = $1`, id)
			return fmt.Errorf("enqueue ratings recompute %s: %w", id, errors.Join(err, uerr))
		}
		zerologCtx(c).Info().Str("task_id", id).Msg("ratings recompute accepted")
		return c.JSON(http.StatusAccepted, recomputeAccepted{TaskID: id, Status: "accepted", StatusURL: "/v1/tasks/" + id})
	}
}
