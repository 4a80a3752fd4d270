package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/store"
)

// declareSchedules stands in for a leading scheduler: it declares two
// schedules and records a tick of the first.
func declareSchedules(t *testing.T, s *testServer) *store.Schedules {
	t.Helper()
	ctx := context.Background()
	records := store.NewSchedules(s.deps.Pool)
	q := s.deps.Queues.Default
	now := time.Date(2030, 1, 1, 0, 0, 30, 0, time.UTC)
	require.NoError(t, records.Declare(ctx, []store.ScheduleDefinition{
		{Name: "payments:reconcile", Spec: "* * * * *", TimeZone: "Africa/Nairobi", TaskType: "payments:reconcile",
			Queue: q, Timeout: 50 * time.Second, Overlap: "skip", Missed: "run_once", HandlerRegistered: true},
		{Name: "push:receipts", Spec: "*/5 * * * *", TimeZone: "Africa/Nairobi", TaskType: "push:receipts",
			Queue: q, Timeout: 4 * time.Minute, MaxRetry: 2, Overlap: "queue", Missed: "skip"},
	}, now))
	tick := now.Add(30 * time.Second)
	require.NoError(t, records.RecordTick(ctx, store.ScheduleTick{
		Name: "payments:reconcile", Tick: tick, At: tick, TaskID: "payments:reconcile:2030-01-01T00:01:00Z",
		Outcome: store.ScheduleEnqueued, NextRun: tick.Add(time.Minute),
	}))
	require.NoError(t, records.RecordRunStart(ctx, "payments:reconcile", "payments:reconcile:2030-01-01T00:01:00Z", tick))
	require.NoError(t, records.RecordRunEnd(ctx, "payments:reconcile", "payments:reconcile:2030-01-01T00:01:00Z",
		1500*time.Millisecond, nil))
	return records
}

func TestListSchedules(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	declareSchedules(t, s)

	r := s.do(t, http.MethodGet, "/v1/admin/schedules", nil, nil)
	require.Equal(t, http.StatusUnauthorized, r.Code, "service key required")

	r = s.do(t, http.MethodGet, "/v1/admin/schedules", nil, serviceAuth())
	require.Equal(t, http.StatusOK, r.Code, string(r.Body))
	list := r.JSON(t)["schedules"].([]any)
	require.Len(t, list, 2)
	rec := list[0].(map[string]any)
	require.Equal(t, "payments:reconcile", rec["name"])
	require.Equal(t, "Africa/Nairobi", rec["time_zone"])
	require.Equal(t, true, rec["handler_registered"])
	require.Equal(t, "enqueued", rec["last_outcome"])
	require.Equal(t, "2030-01-01T00:01:00Z", rec["last_tick"])
	require.Equal(t, "2030-01-01T00:02:00Z", rec["next_run"])
	require.EqualValues(t, 50000, rec["timeout_ms"])
	run := rec["last_run"].(map[string]any)
	require.Equal(t, "succeeded", run["status"])
	require.EqualValues(t, 1500, run["duration_ms"])

	never := list[1].(map[string]any)
	require.Equal(t, "push:receipts", never["name"])
	require.Equal(t, false, never["handler_registered"], "a schedule without a handler is listed and says so")
	require.Nil(t, never["last_tick"])
	require.Nil(t, never["last_run"])
	require.Equal(t, "queue", never["overlap"])
}

func TestRunScheduleNow(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	records := declareSchedules(t, s)

	r := s.do(t, http.MethodPost, "/v1/admin/schedules/push:receipts/run", nil, nil)
	require.Equal(t, http.StatusUnauthorized, r.Code)

	r = s.do(t, http.MethodPost, "/v1/admin/schedules/push:receipts/run", nil, serviceAuth())
	require.Equal(t, http.StatusAccepted, r.Code, string(r.Body))
	body := r.JSON(t)
	id := body["task_id"].(string)
	require.True(t, strings.HasPrefix(id, "push:receipts:manual:"), id)
	require.Equal(t, "/v1/tasks/"+id, body["status_url"])
	require.Equal(t, false, body["handler_registered"])

	info, err := s.deps.Inspector.GetTaskInfo(s.deps.Queues.Default, id)
	require.NoError(t, err)
	require.Equal(t, "push:receipts", info.Type)
	require.Equal(t, asynq.TaskStatePending, info.State)
	require.Equal(t, 2, info.MaxRetry)
	require.Equal(t, 4*time.Minute, info.Timeout)
	var payload struct {
		Schedule string    `json:"schedule"`
		Tick     time.Time `json:"tick"`
		Manual   bool      `json:"manual"`
	}
	require.NoError(t, json.Unmarshal(info.Payload, &payload))
	require.Equal(t, "push:receipts", payload.Schedule)
	require.True(t, payload.Manual)
	require.False(t, payload.Tick.IsZero())

	rec, err := records.Get(context.Background(), "push:receipts")
	require.NoError(t, err)
	require.Equal(t, id, rec.LastTaskID, "the next tick's overlap check sees the manual run")

	// The task is reported by GET /v1/tasks/{id}.
	r = s.do(t, http.MethodGet, "/v1/tasks/"+id, nil, serviceAuth())
	require.Equal(t, http.StatusOK, r.Code, string(r.Body))

	// A replay with the same Idempotency-Key returns the same task, enqueues nothing.
	h := serviceAuth("Idempotency-Key", "run-1")
	first := s.do(t, http.MethodPost, "/v1/admin/schedules/payments:reconcile/run", nil, h)
	require.Equal(t, http.StatusAccepted, first.Code, string(first.Body))
	again := s.do(t, http.MethodPost, "/v1/admin/schedules/payments:reconcile/run", nil, h)
	require.Equal(t, http.StatusAccepted, again.Code)
	require.Equal(t, first.JSON(t)["task_id"], again.JSON(t)["task_id"])
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))

	r = s.do(t, http.MethodPost, "/v1/admin/schedules/nope/run", nil, serviceAuth())
	require.Equal(t, http.StatusNotFound, r.Code)
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	require.Contains(t, r.JSON(t)["detail"], `"nope"`)
}
