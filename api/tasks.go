package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/logging"
	"fundigo/pkg/notification"
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
// write their progress there) merged with Asynq's view of the task, or a
// notification (its status, and its delivery counts as the result). It
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
		if !found {
			// A notification is an accepted command too; its fan-out is
			// not one Asynq task, so it is reported from its own row.
			n, counts, err := notification.Lookup(c.Request().Context(), pool, id)
			switch {
			case err == nil:
				found = true
				v.Type, v.State, v.CompletedAt = "notification", n.Status, n.DoneAt
				if b, err := json.Marshal(map[string]any{"counts": counts}); err == nil {
					v.Result = b
				}
			case !errors.Is(err, store.ErrNotFound):
				return err
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

// taskAccepted is the 202 body of POST /v1/tasks.
type taskAccepted struct {
	TaskID    string     `json:"task_id"`
	Type      string     `json:"type"`
	Queue     string     `json:"queue"`
	Status    string     `json:"status"`
	RunAt     *time.Time `json:"run_at,omitempty"`
	StatusURL string     `json:"status_url"`
}

// handleEnqueueTask is POST /v1/tasks: enqueue a task of a type that opts in
// to remote enqueue (tasks.EnqueueRemote) and answer 202 with its id and
// Location. The id follows from (caller, Idempotency-Key) when the key is
// given, so a retry after the idempotency record expired still names the
// same task instead of enqueuing another.
func handleEnqueueTask(pool *pgxpool.Pool, client *asynq.Client, q tasks.Queues, now func() time.Time) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req tasks.RemoteRequest
		if err := bindStrict(c, &req); err != nil {
			return err
		}
		id := uuid.NewString()
		if key := c.Request().Header.Get("Idempotency-Key"); key != "" {
			id = uuid.NewSHA1(uuid.NameSpaceOID, []byte("task:"+principalName(c)+":"+key)).String()
		}
		ctx := c.Request().Context()
		p, _ := principalOf(c)
		if err := recordTaskOwner(ctx, pool, id, p, ""); err != nil {
			return err
		}
		r, err := tasks.EnqueueRemote(ctx, client, q, id, req, now())
		if errors.Is(err, tasks.ErrDuplicate) {
			return NewProblem(http.StatusConflict, "an identical task (same type and payload) was enqueued within unique_for")
		}
		if err != nil {
			return err
		}
		zerologCtx(c).Info().Str(logging.FieldTaskID, r.ID).Str(logging.FieldTaskType, r.Type).Msg("task enqueued")
		c.Response().Header().Set(echo.HeaderLocation, "/v1/tasks/"+r.ID)
		return c.JSON(http.StatusAccepted, taskAccepted{TaskID: r.ID, Type: r.Type, Queue: r.Queue, Status: "accepted",
			RunAt: r.RunAt, StatusURL: "/v1/tasks/" + r.ID})
	}
}
