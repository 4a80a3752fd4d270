package tracing

import (
	"context"
	"strings"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"fundigo/pkg/logging"
)

// Header names of the W3C carrier, as stored in outbox rows, inbox rows,
// AMQP headers and Asynq task headers.
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
	HeaderBaggage     = "baggage"
)

// Headers returns the W3C carrier of ctx's span context and baggage, or nil
// when ctx carries neither (checked first: every enqueued task and outbox
// batch asks, and most carry nothing).
func Headers(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() && baggage.FromContext(ctx).Len() == 0 {
		return nil
	}
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	if len(c) == 0 {
		return nil
	}
	return c
}

// Inject writes ctx's carrier into h (which must not be nil), replacing
// any trace headers h had.
func Inject(ctx context.Context, h map[string]string) {
	propagator.Inject(ctx, propagation.MapCarrier(h))
}

// HasContext reports whether h carries a traceparent.
func HasContext(h map[string]string) bool { return h[HeaderTraceparent] != "" }

// Extract returns ctx with the remote span context and baggage of h.
func Extract(ctx context.Context, h map[string]string) context.Context {
	if len(h) == 0 {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier(h))
}

// Only is the subset of h that is the W3C carrier (for storing it apart
// from other headers).
func Only(h map[string]string) map[string]string {
	var out map[string]string
	for _, k := range []string{HeaderTraceparent, HeaderTracestate, HeaderBaggage} {
		if v := h[k]; v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// baggageRequestID is the baggage member carrying the API request id to
// every later hop (tasks, events), so their log lines name it.
const baggageRequestID = "fundigo.request_id"

// maxRequestIDLen bounds a request id taken into baggage (it may come from
// the client's X-Request-ID).
const maxRequestIDLen = 128

// WithRequestID returns ctx whose baggage carries the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	if id == "" || len(id) > maxRequestIDLen || strings.ContainsAny(id, "\r\n") {
		return ctx
	}
	m, err := baggage.NewMemberRaw(baggageRequestID, id)
	if err != nil {
		return ctx
	}
	b, err := baggage.FromContext(ctx).SetMember(m)
	if err != nil {
		return ctx
	}
	return baggage.ContextWithBaggage(ctx, b)
}

// RequestID is the request id ctx's baggage carries, "" if none.
func RequestID(ctx context.Context) string {
	return baggage.FromContext(ctx).Member(baggageRequestID).Value()
}

// LogContext adds trace_id and span_id (when ctx has a valid span context)
// and the propagated request id (when known and not already set by the
// caller) to a logger under construction.
func LogContext(ctx context.Context, lc zerolog.Context, withRequestID bool) zerolog.Context {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		lc = lc.Str(logging.FieldTraceID, sc.TraceID().String()).Str(logging.FieldSpanID, sc.SpanID().String())
	}
	if withRequestID {
		if rid := RequestID(ctx); rid != "" {
			lc = lc.Str(logging.FieldRequestID, rid)
		}
	}
	return lc
}

// Logger returns ctx with its zerolog logger (zerolog.Ctx) extended by
// LogContext; ctx itself when there is nothing to add.
func Logger(ctx context.Context, withRequestID bool) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() && (!withRequestID || RequestID(ctx) == "") {
		return ctx // nothing to add: no logger copy
	}
	l := LogContext(ctx, zerolog.Ctx(ctx).With(), withRequestID).Logger()
	return l.WithContext(ctx)
}
