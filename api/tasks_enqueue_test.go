package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEnqueueTask(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)

	r := s.do(t, http.MethodPost, "/v1/tasks", map[string]any{
		"type": "ratings:recompute_technician", "payload": map[string]any{"technician_id": "tech-9"},
	}, serviceAuth("Idempotency-Key", "enq-1"))
	require.Equal(t, http.StatusAccepted, r.Code, string(r.Body))
	body := r.JSON(t)
	id := body["task_id"].(string)
	require.Equal(t, "/v1/tasks/"+id, r.Header.Get("Location"))
	require.Equal(t, s.deps.Queues.Default, body["queue"])

	got := s.do(t, http.MethodGet, "/v1/tasks/"+id, nil, serviceAuth())
	require.Equal(t, http.StatusOK, got.Code, string(got.Body))
	require.Equal(t, "ratings:recompute_technician", got.JSON(t)["type"])
	require.Equal(t, "pending", got.JSON(t)["state"])

	// A retry with the same key answers the same task, Location included.
	again := s.do(t, http.MethodPost, "/v1/tasks", map[string]any{
		"type": "ratings:recompute_technician", "payload": map[string]any{"technician_id": "tech-9"},
	}, serviceAuth("Idempotency-Key", "enq-1"))
	require.Equal(t, http.StatusAccepted, again.Code)
	require.Equal(t, id, again.JSON(t)["task_id"])
	require.Equal(t, "/v1/tasks/"+id, again.Header.Get("Location"))

	// run_at delays it; queue picks another queue.
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	r = s.do(t, http.MethodPost, "/v1/tasks", map[string]any{
		"type": "maintenance:cleanup", "payload": map[string]any{"rules": []string{"outbox"}},
		"run_at": at, "queue": "critical",
	}, serviceAuth())
	require.Equal(t, http.StatusAccepted, r.Code, string(r.Body))
	require.Equal(t, s.deps.Queues.Critical, r.JSON(t)["queue"])
	got = s.do(t, http.MethodGet, r.Header.Get("Location"), nil, serviceAuth())
	require.Equal(t, "scheduled", got.JSON(t)["state"])

	// unique_for refuses an identical task.
	uniq := map[string]any{"type": "payments:reconcile", "payload": map[string]any{}, "unique_for": 60}
	require.Equal(t, http.StatusAccepted, s.do(t, http.MethodPost, "/v1/tasks", uniq, serviceAuth()).Code)
	dup := s.do(t, http.MethodPost, "/v1/tasks", uniq, serviceAuth())
	require.Equal(t, http.StatusConflict, dup.Code, string(dup.Body))
}

func TestEnqueueTaskRefusals(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	for _, tc := range []struct {
		body  map[string]any
		field string
		msg   string
	}{
		{map[string]any{"type": "mpesa:stk_push", "payload": map[string]any{}}, "type",
			"must be one of maintenance:cleanup, payments:reconcile, push:receipts, ratings:recompute_technician"},
		{map[string]any{"type": "ratings:recompute_technician", "payload": map[string]any{}}, "payload.technician_id", "required"},
		{map[string]any{"type": "ratings:recompute_technician", "payload": map[string]any{"technician_id": "t", "x": 1}}, "payload.x", "unknown field"},
		{map[string]any{"type": "maintenance:cleanup", "payload": map[string]any{"rules": []string{"all"}}}, "payload.rules", "outbox"},
		{map[string]any{"type": "push:receipts", "queue": "urgent"}, "queue", "critical, default or low"},
		{map[string]any{"type": "push:receipts", "unique_for": 90000}, "unique_for", "86400"},
		{map[string]any{"type": "push:receipts", "run_at": time.Now().Add(8 * 24 * time.Hour)}, "run_at", "7 days"},
	} {
		r := s.do(t, http.MethodPost, "/v1/tasks", tc.body, serviceAuth())
		require.Equal(t, http.StatusUnprocessableEntity, r.Code, string(r.Body))
		errs := r.JSON(t)["errors"].([]any)
		require.Len(t, errs, 1, string(r.Body))
		e := errs[0].(map[string]any)
		require.Equal(t, tc.field, e["field"])
		require.Contains(t, e["message"], tc.msg)
	}
	// Users cannot enqueue.
	require.Equal(t, http.StatusUnauthorized, s.do(t, http.MethodPost, "/v1/tasks",
		map[string]any{"type": "push:receipts"}, userAuth(t, "u1")).Code)
}

// TestTaskReportsNotifications: a notification is an accepted command that
// GET /v1/tasks/{id} reports, with its delivery counts.
func TestTaskReportsNotifications(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	r := s.do(t, http.MethodPost, "/v1/notifications", map[string]any{
		"user_ids": []string{"u1"}, "title": "Hi", "body": "there",
	}, serviceAuth())
	require.Equal(t, http.StatusAccepted, r.Code, string(r.Body))
	id := r.JSON(t)["id"].(string)
	got := s.do(t, http.MethodGet, "/v1/tasks/"+id, nil, serviceAuth())
	require.Equal(t, http.StatusOK, got.Code, string(got.Body))
	require.Equal(t, "notification", got.JSON(t)["type"])
	require.Equal(t, "queued", got.JSON(t)["state"])
	require.Contains(t, string(got.Body), `"counts"`)
}
