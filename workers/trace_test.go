package workers

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/pkg/tracing"
)

// A task built with tasks.New carries its enqueuer's trace context (and the
// request id) in its Asynq headers; the handler's context continues that
// trace, and the task's log lines name it. A task enqueued outside any
// trace has none.
func TestTaskHandlerContinuesTheEnqueuersTrace(t *testing.T) {
	t.Parallel()
	q := taskstest.Queues(t)
	var logs bytes.Buffer
	logw := zerolog.SyncWriter(&logs)
	s := New(zerolog.New(logw), taskstest.RedisOpt(), nil, Config{Queues: q, Concurrency: 2, ShutdownTimeout: 5 * time.Second})
	type seen struct {
		sc  trace.SpanContext
		rid string
	}
	got := make(chan seen, 2)
	s.Mux().HandleFunc("test:traced", func(ctx context.Context, _ *asynq.Task) error {
		got <- seen{trace.SpanContextFromContext(ctx), tracing.RequestID(ctx)}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{9, 9, 9, 9, 9, 9, 9, 9, 1, 1, 1, 1, 1, 1, 1, 1},
		SpanID:  trace.SpanID{7, 7, 7, 7, 7, 7, 7, 7}, TraceFlags: trace.FlagsSampled,
	})
	tctx := tracing.WithRequestID(trace.ContextWithSpanContext(context.Background(), sc), "req-7")
	task := tasks.New(tctx, "test:traced", nil, asynq.Queue(q.Default))
	require.Contains(t, task.Headers()["traceparent"], sc.TraceID().String())
	c := taskstest.Client(t)
	_, err := c.Enqueue(task)
	require.NoError(t, err)

	var first seen
	select {
	case first = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("traced task not handled")
	}
	require.Equal(t, sc.TraceID(), first.sc.TraceID())
	require.Equal(t, "req-7", first.rid)

	_, err = c.Enqueue(tasks.New(context.Background(), "test:traced", nil, asynq.Queue(q.Default)))
	require.NoError(t, err)
	var second seen
	select {
	case second = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("untraced task not handled")
	}
	require.NotEqual(t, sc.TraceID(), second.sc.TraceID())
	require.Empty(t, second.rid)

	cancel()
	require.NoError(t, <-done)
	_, _ = logw.Write(nil)
	require.Contains(t, logs.String(), `"trace_id":"`+sc.TraceID().String()+`"`)
	require.Contains(t, logs.String(), `"request_id":"req-7"`)
}
