package celery_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/celery"
	"fundigo/pkg/tasks/taskstest"
)

type backendBundle struct {
	rdb     *redis.Client
	backend *celery.Backend
	msg     *celery.Message
}

// setupBackend uses Celery's real key names (no prefix: the point is that
// Python reads them) under a fresh task id, deleted afterwards.
func setupBackend(t *testing.T, cfg celery.BackendConfig) backendBundle {
	t.Helper()
	rdb := taskstest.Redis(t)
	b := celery.NewBackend(rdb, cfg)
	m, err := celery.NewMessage("tests.add", []any{1, 2}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { rdb.Del(context.Background(), b.Key(m.ID)) })
	return backendBundle{rdb: rdb, backend: b, msg: m}
}

// subscribe listens on the result channel before anything is written, as
// AsyncResult.get() does, and returns the published payloads.
func subscribe(t *testing.T, rdb *redis.Client, channel string) <-chan *redis.Message {
	t.Helper()
	ctx := context.Background()
	sub := rdb.Subscribe(ctx, channel)
	_, err := sub.Receive(ctx) // the subscription confirmation
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close() })
	return sub.Channel()
}

func TestBackendStoreSetsAndPublishes(t *testing.T) {
	t.Parallel()
	s := setupBackend(t, celery.BackendConfig{})
	ctx := context.Background()
	key := "celery-task-meta-" + s.msg.ID
	require.Equal(t, key, s.backend.Key(s.msg.ID))
	msgs := subscribe(t, s.rdb, key)

	now := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	meta, err := celery.SuccessMeta(s.msg, map[string]any{"notification_id": "n-1"}, now)
	require.NoError(t, err)
	stored, err := s.backend.Store(ctx, meta)
	require.NoError(t, err)
	require.True(t, stored)

	select {
	case m := <-msgs:
		require.Equal(t, key, m.Channel)
		require.JSONEq(t, `{"status": "SUCCESS", "result": {"notification_id": "n-1"}, "traceback": null,
			"children": [], "date_done": "2026-01-02T03:04:05.000006+00:00", "task_id": "`+s.msg.ID+`"}`, m.Payload)
	case <-time.After(5 * time.Second):
		t.Fatal("no PUBLISH on the result channel: AsyncResult.get() would hang")
	}
	raw, err := s.rdb.Get(ctx, key).Result()
	require.NoError(t, err)
	require.Contains(t, raw, `"status":"SUCCESS"`)
	ttl, err := s.rdb.TTL(ctx, key).Result()
	require.NoError(t, err)
	require.InDelta(t, (24 * time.Hour).Seconds(), ttl.Seconds(), 5, "result_expires defaults to one day")
}

func TestBackendNeverOverwritesSuccess(t *testing.T) {
	t.Parallel()
	s := setupBackend(t, celery.BackendConfig{})
	ctx := context.Background()
	now := time.Now()

	retry, err := celery.ExceptionMeta(s.msg, celery.StateRetry, celery.RuntimeError("busy"), now)
	require.NoError(t, err)
	stored, err := s.backend.Store(ctx, retry)
	require.NoError(t, err)
	require.True(t, stored, "RETRY may be replaced")

	ok, err := celery.SuccessMeta(s.msg, 3, now)
	require.NoError(t, err)
	stored, err = s.backend.Store(ctx, ok)
	require.NoError(t, err)
	require.True(t, stored)

	msgs := subscribe(t, s.rdb, s.backend.Key(s.msg.ID))
	late, err := celery.ExceptionMeta(s.msg, celery.StateFailure, celery.ValueError("late duplicate"), now)
	require.NoError(t, err)
	stored, err = s.backend.Store(ctx, late)
	require.NoError(t, err)
	require.False(t, stored, "a stored SUCCESS is final")

	got, err := s.backend.Get(ctx, s.msg.ID)
	require.NoError(t, err)
	require.Equal(t, celery.StateSuccess, got.Status)
	require.JSONEq(t, `3`, string(got.Result))
	select {
	case m := <-msgs:
		t.Fatalf("nothing may be published for a refused write, got %s", m.Payload)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestBackendFailureEncoding(t *testing.T) {
	t.Parallel()
	s := setupBackend(t, celery.BackendConfig{Expires: 90 * time.Second})
	ctx := context.Background()
	s.msg.Group = "g-1"
	s.msg.ParentID = "p-1"
	meta, err := celery.ExceptionMeta(s.msg, celery.StateFailure, celery.ValueError("amount must be positive"), time.Now())
	require.NoError(t, err)
	_, err = s.backend.Store(ctx, meta)
	require.NoError(t, err)

	raw, err := s.rdb.Get(ctx, s.backend.Key(s.msg.ID)).Bytes()
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Equal(t, "FAILURE", doc["status"])
	require.Equal(t, map[string]any{"exc_type": "ValueError", "exc_message": []any{"amount must be positive"},
		"exc_module": "builtins"}, doc["result"])
	require.Contains(t, doc["traceback"], "ValueError: amount must be positive")
	require.NotNil(t, doc["date_done"])
	require.Equal(t, "g-1", doc["group_id"])
	require.Equal(t, "p-1", doc["parent_id"])
	ttl, err := s.rdb.TTL(ctx, s.backend.Key(s.msg.ID)).Result()
	require.NoError(t, err)
	require.InDelta(t, 90, ttl.Seconds(), 5)

	got, err := s.backend.Get(ctx, s.msg.ID)
	require.NoError(t, err)
	exc, err := got.Exception()
	require.NoError(t, err)
	require.Equal(t, celery.ValueError("amount must be positive"), exc)
}

func TestBackendRetryHasNoDateDone(t *testing.T) {
	t.Parallel()
	m := &celery.Message{ID: uuid.NewString()}
	meta, err := celery.ExceptionMeta(m, celery.StateRetry, celery.RuntimeError("x"), time.Now())
	require.NoError(t, err)
	require.Nil(t, meta.DateDone, "date_done is set only for ready states")
	require.NotNil(t, meta.Traceback)
	_, err = celery.ExceptionMeta(m, celery.StateFailure, nil, time.Now())
	require.Error(t, err)
}

func TestBackendGetMissingIsPending(t *testing.T) {
	t.Parallel()
	s := setupBackend(t, celery.BackendConfig{})
	got, err := s.backend.Get(context.Background(), s.msg.ID)
	require.NoError(t, err)
	require.Equal(t, celery.StatePending, got.Status)
	_, err = s.backend.Store(context.Background(), celery.Meta{})
	require.Error(t, err, "a result needs a task id")
}

func TestBackendNoExpiryAndPrefix(t *testing.T) {
	t.Parallel()
	rdb := taskstest.Redis(t)
	prefix := taskstest.Prefix(t)
	b := celery.NewBackend(rdb, celery.BackendConfig{Expires: -1, KeyPrefix: prefix})
	m := &celery.Message{ID: uuid.NewString()}
	require.Equal(t, prefix+"celery-task-meta-"+m.ID, b.Key(m.ID))
	meta, err := celery.SuccessMeta(m, nil, time.Now())
	require.NoError(t, err)
	_, err = b.Store(context.Background(), meta)
	require.NoError(t, err)
	ttl, err := rdb.TTL(context.Background(), b.Key(m.ID)).Result()
	require.NoError(t, err)
	require.Equal(t, time.Duration(-1), ttl, "result_expires=None stores without expiry")
}
