package tasks

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"
)

// Handler handles one task whose JSON payload was decoded into a T, the
// Asynq twin of amqpx.Handler: it never sees the *asynq.Task (ResultFrom(ctx)
// writes the task's result; asynq.GetTaskID, GetRetryCount and GetMaxRetry
// read its id and attempt), and its result is classified by the Classify
// middleware like any handler's.
type Handler[T any] func(ctx context.Context, payload T) error

// validator is implemented by payloads that check themselves.
type validator interface{ Validate() error }

// JSON adapts h to an asynq.Handler: it decodes the payload into a T (an
// empty payload is T's zero value) and calls h. A payload that does not
// decode, or (when T has a Validate() error method) is invalid, is a
// permanent failure: the task is archived at once and h is not called.
func JSON[T any](h Handler[T]) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var p T
		if len(t.Payload()) > 0 {
			if err := json.Unmarshal(t.Payload(), &p); err != nil {
				return Permanent(fmt.Errorf("decode %s payload: %w", t.Type(), err))
			}
		}
		if v, ok := any(&p).(validator); ok {
			if err := v.Validate(); err != nil {
				return Permanent(fmt.Errorf("invalid %s payload: %w", t.Type(), err))
			}
		}
		return h(withResult(ctx, t.ResultWriter()), p)
	}
}

type resultKey struct{}

func withResult(ctx context.Context, w *asynq.ResultWriter) context.Context {
	if w == nil {
		return ctx
	}
	return context.WithValue(ctx, resultKey{}, w)
}

// ResultFrom returns the result writer of the task being handled (what
// GET /v1/tasks/{id} reads), or nil outside a server (a handler called
// directly in a test).
func ResultFrom(ctx context.Context) *asynq.ResultWriter {
	w, _ := ctx.Value(resultKey{}).(*asynq.ResultWriter)
	return w
}
