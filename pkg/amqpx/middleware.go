package amqpx

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"fundigo/pkg/logging"
	"fundigo/pkg/outcome"
	"fundigo/pkg/tracing"
)

// MiddlewareFunc wraps a HandlerFunc, in the shape of asynq.MiddlewareFunc
// and Echo's middleware: recovery, logging, classification and metrics are
// middlewares, so every consumer gets the same behaviour.
type MiddlewareFunc func(HandlerFunc) HandlerFunc

// Chain wraps h with mws; the first middleware is the outermost.
func Chain(h HandlerFunc, mws ...MiddlewareFunc) HandlerFunc {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// Recover turns a handler panic into an ordinary (retryable) error and logs
// the stack, so a poison message ends in the DLQ after its attempts instead
// of killing the worker.
func Recover() MiddlewareFunc {
	return func(next HandlerFunc) HandlerFunc {
		return func(ctx context.Context, d amqp.Delivery) (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("handler panic: %v", r)
					zerolog.Ctx(ctx).Error().Str("stack", string(debug.Stack())).Msg("handler panicked")
				}
			}()
			return next(ctx, d)
		}
	}
}

// Classify normalises the handler's result with outcome.Classify, the
// classifier the Asynq side uses too: nil for already done (a duplicate, a
// stale transition), an error marked outcome.Permanent for a failure
// retrying cannot fix (including SQLSTATE classes 22/23 and JSON decode
// errors), and the error unchanged for a retryable failure.
func Classify() MiddlewareFunc {
	return func(next HandlerFunc) HandlerFunc {
		return func(ctx context.Context, d amqp.Delivery) error {
			err := next(ctx, d)
			switch outcome.Classify(err) {
			case outcome.AlreadyDone:
				if err != nil {
					zerolog.Ctx(ctx).Debug().Err(err).Msg("message already handled")
				}
				return nil
			case outcome.PermanentFailure:
				return outcome.Permanent(err)
			default:
				return err
			}
		}
	}
}

// Log logs the result of each message once, after classification (it must
// wrap Classify): Debug when handled, Warn when it will be redelivered, Error
// when it is dead-lettered (a human must look at the DLQ).
func Log() MiddlewareFunc {
	return func(next HandlerFunc) HandlerFunc {
		return func(ctx context.Context, d amqp.Delivery) error {
			start := startedAt(ctx)
			err := next(ctx, d)
			info, _ := InfoFrom(ctx)
			log := zerolog.Ctx(ctx)
			dur := time.Since(start).Milliseconds()
			switch {
			case err == nil:
				log.Debug().Int64(logging.FieldDurationMS, dur).Msg("message handled")
			case outcome.IsPermanent(err):
				log.Error().Err(err).Int64(logging.FieldDurationMS, dur).Msg("message failed permanently; dead-lettered")
			case info.Exhausted():
				log.Error().Err(err).Int(logging.FieldAttempt, info.Attempt).Int64(logging.FieldDurationMS, dur).
					Msg("message failed on its last attempt; dead-lettered")
			default:
				log.Warn().Err(err).Int(logging.FieldAttempt, info.Attempt).Int64(logging.FieldDurationMS, dur).
					Msg("message failed; will be redelivered after a delay")
			}
			return err
		}
	}
}

// ObserveFunc receives the class and duration of every handled message
// (metrics). It must be fast and must not block.
type ObserveFunc func(info Info, class outcome.Class, elapsed time.Duration)

// Observe calls fn after every message with its class; put it outside
// Classify (ConsumerSpec.Middleware already is).
func Observe(fn ObserveFunc) MiddlewareFunc {
	return func(next HandlerFunc) HandlerFunc {
		return func(ctx context.Context, d amqp.Delivery) error {
			start := startedAt(ctx)
			err := next(ctx, d)
			info, _ := InfoFrom(ctx)
			fn(info, outcome.Classify(err), time.Since(start))
			return err
		}
	}
}

// Trace continues the trace a message was published in (its W3C
// traceparent/tracestate/baggage headers, written by the outbox relay) with a
// consumer span named after the routing key, and gives the message's logger
// the span's trace_id (and the propagated request id). With tracing off
// (tracing.On) it starts no span: the handler's context carries the
// message's trace context as is. NewConsumer puts it outermost.
func Trace() MiddlewareFunc {
	return func(next HandlerFunc) HandlerFunc {
		return func(ctx context.Context, d amqp.Delivery) error {
			ctx, span := startSpan(ctx, d)
			if span == nil {
				return next(ctx, d)
			}
			defer span.End()
			err := next(ctx, d)
			recordResult(span, err)
			return err
		}
	}
}

// startSpan is Trace's start for one delivery: ctx continues d's trace
// context with a consumer span (nil with tracing off) and a logger with its
// trace id. ctx must carry d's Info.
func startSpan(ctx context.Context, d amqp.Delivery) (context.Context, trace.Span) {
	ctx = tracing.Extract(ctx, TraceHeaders(d.Headers))
	if !tracing.On() {
		// No span to record: pass the message's trace context on.
		return tracing.Logger(ctx, true), nil
	}
	info, _ := InfoFrom(ctx)
	ctx, span := tracing.Tracer().Start(ctx, "process "+info.RoutingKey, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messaging.system", "rabbitmq"),
			attribute.String("messaging.rabbitmq.destination.routing_key", info.RoutingKey),
			attribute.String("messaging.message.id", d.MessageId),
			attribute.Int("fundigo.delivery.attempt", info.Attempt)))
	return tracing.Logger(ctx, true), span
}

// recordResult marks span failed when err is not nil.
func recordResult(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "message failed")
	}
}

// TraceHeaders is the W3C carrier among AMQP headers (string values only).
func TraceHeaders(h amqp.Table) map[string]string {
	var out map[string]string
	for _, k := range []string{tracing.HeaderTraceparent, tracing.HeaderTracestate, tracing.HeaderBaggage} {
		if v, ok := h[k].(string); ok && v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}
