package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/store"
)

// The schedules endpoints read the schedules table, which the leading
// scheduler replica fills from its table in code (scheduler/schedules.go):
// the API lists and triggers what the scheduler declared, without importing
// it. A schedule no scheduler has declared yet is unknown here (404).

// scheduleView is one schedule in GET /v1/admin/schedules.
type scheduleView struct {
	Name              string     `json:"name"`
	Spec              string     `json:"spec"`
	TimeZone          string     `json:"time_zone"`
	TaskType          string     `json:"task_type"`
	Queue             string     `json:"queue"`
	TimeoutMS         int64      `json:"timeout_ms"`
	MaxRetry          int        `json:"max_retry"`
	Overlap           string     `json:"overlap"`
	Missed            string     `json:"missed"`
	HandlerRegistered bool       `json:"handler_registered"`
	NextRun           *time.Time `json:"next_run"`
	LastTick          *time.Time `json:"last_tick"`
	LastEnqueuedAt    *time.Time `json:"last_enqueued_at"`
	LastTaskID        string     `json:"last_task_id,omitempty"`
	LastOutcome       string     `json:"last_outcome,omitempty"`
	LastError         string     `json:"last_error,omitempty"`
	LastRun           *runView   `json:"last_run"`
	DeclaredAt        time.Time  `json:"declared_at"`
}

// runView is how the last run of a schedule's task went.
type runView struct {
	TaskID     string     `json:"task_id"`
	StartedAt  *time.Time `json:"started_at"`
	Status     string     `json:"status"`
	DurationMS *int64     `json:"duration_ms"`
	Error      string     `json:"error,omitempty"`
}

func newScheduleView(s store.Schedule) scheduleView {
	v := scheduleView{
		Name: s.Name, Spec: s.Spec, TimeZone: s.TimeZone, TaskType: s.TaskType, Queue: s.Queue,
		TimeoutMS: s.Timeout.Milliseconds(), MaxRetry: s.MaxRetry, Overlap: s.Overlap,
		Missed: s.Missed, HandlerRegistered: s.HandlerRegistered, NextRun: s.NextRun,
		LastTick: s.LastTick, LastEnqueuedAt: s.LastEnqueuedAt, LastTaskID: s.LastTaskID,
		LastOutcome: string(s.LastOutcome), LastError: s.LastError, DeclaredAt: s.DeclaredAt,
	}
	if s.LastRunTaskID != "" {
		v.LastRun = &runView{TaskID: s.LastRunTaskID, StartedAt: s.LastRunStartedAt,
			Status: string(s.LastRunStatus), Error: s.LastRunError}
		if s.LastDuration != nil {
			ms := s.LastDuration.Milliseconds()
			v.LastRun.DurationMS = &ms
		}
	}
	return v
}

// handleListSchedules lists every declared schedule with its next run, last
// tick and outcome, last run, and whether a worker handler exists for it.
func handleListSchedules(pool *pgxpool.Pool) echo.HandlerFunc {
	records := store.NewSchedules(pool)
	return func(c echo.Context) error {
		rows, err := records.List(c.Request().Context())
		if err != nil {
			return err
		}
		out := make([]scheduleView, 0, len(rows))
		for _, r := range rows {
			out = append(out, newScheduleView(r))
		}
		return c.JSON(http.StatusOK, map[string]any{"schedules": out})
	}
}

// handleRunSchedule enqueues a run of a schedule now, outside its ticks, as
// task "<name>:manual:<uuid>" on the schedule's queue, and answers 202 with
// the task ID (GET /v1/tasks/{id} reports it). The run counts for the
// overlap check of the next tick. Unknown name: 404.
func handleRunSchedule(pool *pgxpool.Pool, client *asynq.Client, now func() time.Time) echo.HandlerFunc {
	records := store.NewSchedules(pool)
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		name := c.Param("name")
		s, err := records.Get(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return NewProblem(http.StatusNotFound, fmt.Sprintf("no schedule named %q", name))
		}
		if err != nil {
			return err
		}
		at := now()
		id := name + ":manual:" + uuid.NewString()
		// Same body as the scheduler's ticks (scheduler.Payload).
		body, err := json.Marshal(struct {
			Schedule string    `json:"schedule"`
			Tick     time.Time `json:"tick"`
			Manual   bool      `json:"manual"`
		}{name, at.UTC(), true})
		if err != nil {
			return fmt.Errorf("encode payload of schedule %s: %w", name, err)
		}
		_, err = client.EnqueueContext(ctx, asynq.NewTask(s.TaskType, body), asynq.Queue(s.Queue),
			asynq.TaskID(id), asynq.Timeout(s.Timeout), asynq.MaxRetry(s.MaxRetry),
			asynq.Retention(24*time.Hour))
		if err != nil {
			return fmt.Errorf("enqueue manual run %s: %w", id, err)
		}
		if err := records.RecordManualRun(ctx, name, id, at); err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderLocation, "/v1/tasks/"+id)
		return c.JSON(http.StatusAccepted, map[string]any{
			"task_id": id, "schedule": name, "task_type": s.TaskType, "queue": s.Queue,
			"handler_registered": s.HandlerRegistered, "status_url": "/v1/tasks/" + id,
		})
	}
}
