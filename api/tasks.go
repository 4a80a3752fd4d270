package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/logging"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// taskView is what GET /v1/tasks/{id} reports: the AsyncResult role.
type taskView struct {
	ID            string          `json:"id"`
	Type          string          `json:"type,omitempty"`
	Queue         string          `json:"queue,omitempty"`
	State         string          `json:"state"`
	Retried       int             `json:"retried"`
	MaxRetry      int             `json:"max_retry,omitempty"`
	LastError     string          `json:"last_error,omitempty"`
	NextProcessAt *time.Time      `json:"next_process_at,omitempty"`
	CompletedAt   *time.Time      `json:"completed_at,omitempty"`
	Progress      json.RawMessage `json:"progress,omitempty"`
	Result        json.RawMessage `json:"result,omitempty"`
}

// handleGetTask reports any accepted command: the commands table (long jobs
// write their progress there) merged with Asynq's view of the task. It
// answers 404 when both said "no such task", or when a user asks for a task
// that is not theirs (task_owners); users never see last_error. When the task backend
// (Redis) could not answer it is 503 naming it, never 404.
func handleGetTask(pool *pgxpool.Pool, insp *asynq.Inspector, q tasks.Queues) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		if id == "" || len(id) > 200 {
			return Validation(FieldError{Field: "id", Message: "must be 1..200 characters"})
		}
		// Services read every task; a user only their own, and an unknown
		// task and someone else's answer alike.
		p, _ := principalOf(c)
		visible, err := taskVisible(c.Request().Context(), pool, id, p)
		if err != nil {
			return err
		}
		if !visible {
			return NewProblem(http.StatusNotFound, "no task with this id")
		}
		v := taskView{ID: id}
		found := false

		cmd, err := store.GetCommand(c.Request().Context(), pool, id)
		switch {
		case err == nil:
			found = true
			v.Type, v.State, v.Progress, v.Result = cmd.Kind, cmd.State, cmd.Progress, cmd.Result
			if cmd.Error != nil {
				v.LastError = *cmd.Error
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}

		var backendErr error
		if insp != nil {
			info, err := lookupTask(c.Request().Context(), insp, q.All(), id)
			backendErr = err
			if info != nil {
				found = true
				v.Type, v.Queue, v.Retried, v.MaxRetry, v.LastError = info.Type, info.Queue, info.Retried, info.MaxRetry, info.LastErr
				if v.State == "" || v.State == "accepted" || info.State != asynq.TaskStateCompleted {
					v.State = info.State.String()
				}
				if !info.NextProcessAt.IsZero() {
					t := info.NextProcessAt
					v.NextProcessAt = &t
				}
				if !info.CompletedAt.IsZero() {
					t := info.CompletedAt
					v.CompletedAt = &t
				}
				if len(v.Result) == 0 && len(info.Result) > 0 && json.Valid(info.Result) {
					v.Result = info.Result
				}
			}
		}
		if !found && backendErr != nil {
			// Not knowing is not "no such task": the caller must retry.
			return unavailable(depRedis, fmt.Errorf("look up task %s: %w", logging.TruncateID(id), backendErr))
		}
		if !found {
			return NewProblem(http.StatusNotFound, "no task with this id")
		}
		if p.Kind != "service" {
			v.LastError = "" // internal error text is for operators, not users
		}
		return c.JSON(http.StatusOK, v)
	}
}

// lookupTask finds task id in the first of queues that has it: (info, nil)
// found, (nil, nil) in none of them, (nil, err) when Redis could not say for
// at least one queue. The Inspector takes no context, so the lookups run
// aside and ctx bounds the wait (an abandoned lookup ends at go-redis's own
// timeouts).
func lookupTask(ctx context.Context, insp *asynq.Inspector, queues []string, id string) (*asynq.TaskInfo, error) {
	type answer struct {
		info *asynq.TaskInfo
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		var backendErr error
		for _, queue := range queues {
			info, err := insp.GetTaskInfo(queue, id)
			switch {
			case err == nil:
				done <- answer{info: info}
				return
			case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
			default:
				backendErr = err
			}
			if ctx.Err() != nil {
				break
			}
		}
		done <- answer{err: backendErr}
	}()
	select {
	case a := <-done:
		return a.info, a.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
