package workers

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"fundigo/pkg/logging"
	"fundigo/pkg/sentryx"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tracing"
)

// recoverTask turns a handler panic into an error (retried), so one bad task
// cannot take the worker down.
func recoverTask(log zerolog.Logger, rep *sentryx.Reporter) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) (err error) {
			defer func() {
				if p := recover(); p != nil {
					rep.CapturePanic(ctx, p, map[string]string{"task_type": t.Type()})
					err = fmt.Errorf("panic in %s handler: %v", t.Type(), p)
				}
			}()
			return next.ProcessTask(ctx, t)
		})
	}
}

// logTask attaches a task-scoped logger to ctx and logs the result once,
// after tasks.Classify (docs/ARCHITECTURE.md, "One handler shape") has classified it:
//   - nil (done or already done): Debug;
//   - permanent (SkipRetry): archived without retry, Error;
//   - anything else: retried, Warn.
func logTask(log zerolog.Logger, rep *sentryx.Reporter) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			id, _ := asynq.GetTaskID(ctx)
			retried, _ := asynq.GetRetryCount(ctx)
			queue, _ := asynq.GetQueueName(ctx)
			l := tracing.LogContext(ctx, log.With().Str(logging.FieldTaskID, id).Str(logging.FieldTaskType, t.Type()).
				Str(logging.FieldQueue, queue).Int(logging.FieldAttempt, retried+1), true).Logger()
			start := time.Now()
			err := next.ProcessTask(l.WithContext(ctx), t)
			dur := time.Since(start).Milliseconds()
			switch {
			case err == nil:
				l.Info().Int64(logging.FieldDurationMS, dur).Msg("task done")
			case tasks.IsPermanent(err):
				l.Error().Err(err).Int64(logging.FieldDurationMS, dur).Msg("task failed permanently")
				rep.CaptureError(ctx, err, map[string]string{"task_type": t.Type(), "queue": queue})
			default:
				l.Warn().Err(err).Int64(logging.FieldDurationMS, dur).Msg("task failed; will retry")
			}
			return err
		})
	}
}

// traceTask continues the trace the task was enqueued in (its W3C headers,
// tasks.New) with a consumer span named after the task type, so one request
// shows as one trace down to the tasks it caused (with tracing off, no
// span: the handler's context carries the task's trace context as is). It
// is the outermost
// middleware: the task's logger (logTask) carries the span's trace_id.
func traceTask() asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			ctx = tracing.Extract(ctx, t.Headers())
			if !tracing.On() {
				// No span to record: pass the task's trace context on.
				return next.ProcessTask(ctx, t)
			}
			id, _ := asynq.GetTaskID(ctx)
			queue, _ := asynq.GetQueueName(ctx)
			retried, _ := asynq.GetRetryCount(ctx)
			ctx, span := tracing.Tracer().Start(ctx, "task "+t.Type(), trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(attribute.String("messaging.system", "asynq"),
					attribute.String("messaging.destination.name", queue),
					attribute.String("messaging.message.id", id),
					attribute.Int("fundigo.task.attempt", retried+1)))
			defer span.End()
			err := next.ProcessTask(ctx, t)
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, "task failed")
			}
			return err
		})
	}
}

// asynqLogger routes asynq's own logs into zerolog.
type asynqLogger struct{ log zerolog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug().Msg(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.log.Info().Msg(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn().Msg(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.log.Error().Msg(fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) { l.log.Fatal().Msg(fmt.Sprint(args...)) }
