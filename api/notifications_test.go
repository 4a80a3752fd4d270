package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/events"
	"fundigo/pkg/notification"
)

func TestCreateNotification(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	body := map[string]any{
		"user_ids": []string{"u1", "u2", "u1"}, "template": "job_assigned", "params": map[string]any{"job_id": "J-1"},
		"category": "jobs", "priority": "high", "collapse_id": "job-J-1",
	}
	r := s.do(t, http.MethodPost, "/v1/notifications", body, serviceAuth("Idempotency-Key", "k-1"))
	require.Equal(t, http.StatusAccepted, r.Code, string(r.Body))
	got := r.JSON(t)
	id := got["id"].(string)
	require.Equal(t, "queued", got["status"])

	// The event is in the outbox, committed with the notification.
	var payload []byte
	var key string
	require.NoError(t, s.deps.Pool.QueryRow(t.Context(),
		`SELECT routing_key, payload FROM outbox WHERE message_id = $1`, "notification.requested:"+id).Scan(&key, &payload))
	require.Equal(t, events.RoutingKeyNotificationRequested, key)
	var ev events.NotificationRequested
	require.NoError(t, json.Unmarshal(payload, &ev))
	require.Equal(t, []string{"u1", "u2"}, ev.UserIDs, "duplicate user ids are dropped")
	require.Equal(t, "api:tests:k-1", ev.SourceKey)
	require.Equal(t, "high", ev.Priority)

	// A replay answers the same notification.
	r = s.do(t, http.MethodPost, "/v1/notifications", body, serviceAuth("Idempotency-Key", "k-1"))
	require.Equal(t, http.StatusAccepted, r.Code)
	require.Equal(t, id, r.JSON(t)["id"])
	// Even when the stored response is gone, the source key holds.
	_, err := s.deps.Pool.Exec(t.Context(), `DELETE FROM idempotency_keys`)
	require.NoError(t, err)
	r = s.do(t, http.MethodPost, "/v1/notifications", body, serviceAuth("Idempotency-Key", "k-1"))
	require.Equal(t, http.StatusAccepted, r.Code)
	require.Equal(t, id, r.JSON(t)["id"])
	var n int
	require.NoError(t, s.deps.Pool.QueryRow(t.Context(), `SELECT count(*) FROM notifications`).Scan(&n))
	require.Equal(t, 1, n)
	require.NoError(t, s.deps.Pool.QueryRow(t.Context(), `SELECT count(*) FROM outbox`).Scan(&n))
	require.Equal(t, 1, n)

	// Literal title/body.
	r = s.do(t, http.MethodPost, "/v1/notifications", map[string]any{
		"user_ids": []string{"u3"}, "title": "Hello", "body": "World", "data": map[string]any{"screen": "home"},
	}, serviceAuth())
	require.Equal(t, http.StatusAccepted, r.Code, string(r.Body))
}

func TestCreateNotificationRejects(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	many := make([]string, notification.MaxUsers+1)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"no users":         {map[string]any{"user_ids": []string{}, "title": "t"}, "user_ids"},
		"too many users":   {map[string]any{"user_ids": many, "title": "t"}, "user_ids"},
		"nothing to say":   {map[string]any{"user_ids": []string{"u1"}}, "title"},
		"unknown template": {map[string]any{"user_ids": []string{"u1"}, "template": "nope"}, "template"},
		"missing param":    {map[string]any{"user_ids": []string{"u1"}, "template": "job_assigned"}, "params.job_id"},
		"both":             {map[string]any{"user_ids": []string{"u1"}, "template": "job_assigned", "params": map[string]any{"job_id": 1}, "title": "x"}, "template"},
		"bad priority":     {map[string]any{"user_ids": []string{"u1"}, "title": "t", "priority": "urgent"}, "priority"},
	} {
		r := s.do(t, http.MethodPost, "/v1/notifications", tc.body, serviceAuth())
		require.Equal(t, http.StatusUnprocessableEntity, r.Code, name)
		require.Equal(t, tc.field, r.JSON(t)["errors"].([]any)[0].(map[string]any)["field"], name)
	}
	r := s.do(t, http.MethodPost, "/v1/notifications", map[string]any{"user_ids": []string{"u1"}, "title": "t"}, userAuth(t, "u1"))
	require.Equal(t, http.StatusUnauthorized, r.Code, "services only")
	var n int
	require.NoError(t, s.deps.Pool.QueryRow(t.Context(), `SELECT count(*) FROM notifications`).Scan(&n))
	require.Zero(t, n)
}

func TestGetNotification(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	r := s.do(t, http.MethodPost, "/v1/notifications", map[string]any{"user_ids": []string{"u1"}, "title": "t"}, serviceAuth())
	require.Equal(t, http.StatusAccepted, r.Code)
	id := r.JSON(t)["id"].(string)
	// Deliveries as the worker would have settled them.
	_, err := s.deps.Pool.Exec(t.Context(), `
		INSERT INTO notification_deliveries (notification_id, user_id, device_token, platform, locale, status, accepted)
		VALUES ($1, 'u1', 'a', 'expo', 'en', 'sent', true), ($1, 'u1', 'b', 'expo', 'en', 'invalid', false),
		       ($1, 'u1', 'c', 'expo', 'en', 'deferred', false), ($1, 'u1', 'd', 'expo', 'en', 'delivered', true)`, id)
	require.NoError(t, err)

	r = s.do(t, http.MethodGet, "/v1/notifications/"+id, nil, serviceAuth())
	require.Equal(t, http.StatusOK, r.Code, string(r.Body))
	got := r.JSON(t)
	require.Equal(t, "queued", got["status"])
	require.Equal(t, map[string]any{
		"devices": 4.0, "sent": 2.0, "failed": 0.0, "invalid_tokens": 1.0, "awaiting_receipt": 1.0,
		"delivered": 1.0, "deferred": 1.0, "queued": 0.0, "muted": 0.0,
	}, got["counts"])

	for _, bad := range []string{"not-a-uuid", "6f1c7a52-3d0e-4b7e-9a55-2a8f0b4c9d17"} {
		r = s.do(t, http.MethodGet, "/v1/notifications/"+bad, nil, serviceAuth())
		require.Equal(t, http.StatusNotFound, r.Code)
	}
}
