package tracing_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"fundigo/pkg/config"
	"fundigo/pkg/tracing"
)

func defaults(t *testing.T, vars map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return vars[k] })
	require.NoError(t, err)
	return cfg
}

// Off by default: no exporter, the global provider stays OpenTelemetry's
// no-op one, and spans are not recorded. (Not parallel: it reads the
// globals that the enabling test below sets.)
func TestTracingIsOffByDefault(t *testing.T) {
	cfg := defaults(t, nil)
	require.Equal(t, "none", cfg.Tracing.Exporter)
	require.False(t, cfg.Tracing.Enabled())
	before := otel.GetTracerProvider()
	p, err := tracing.Setup(context.Background(), cfg.Tracing, tracing.Info{Role: "test"})
	require.NoError(t, err)
	require.False(t, p.Enabled())
	require.False(t, tracing.On(), "the instrumentation takes its lean path")
	require.Same(t, before, otel.GetTracerProvider(), "Setup off must not install a provider")
	_, isSDK := otel.GetTracerProvider().(*sdktrace.TracerProvider)
	require.False(t, isSDK)
	_, span := tracing.Tracer().Start(context.Background(), "x")
	require.False(t, span.IsRecording())
	span.End()
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestConfigRejectsUnknownExporterAndSampler(t *testing.T) {
	t.Parallel()
	_, err := config.Load(func(k string) string {
		return map[string]string{"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_TRACES_SAMPLER": "sometimes",
			"OTEL_TRACES_SAMPLER_ARG": "2", "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}[k]
	})
	require.ErrorContains(t, err, "OTEL_TRACES_EXPORTER")
	require.ErrorContains(t, err, "OTEL_TRACES_SAMPLER")
	require.ErrorContains(t, err, "OTEL_EXPORTER_OTLP_ENDPOINT")
}

// OTLP on: Setup builds an exporter without contacting the collector
// (export is batched and lazy), and the SDK disable switch wins.
func TestOTLPExporterBuildsFromConfig(t *testing.T) {
	t.Parallel()
	for _, proto := range []string{"http/protobuf", "grpc"} {
		cfg := defaults(t, map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": proto,
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"})
		require.False(t, cfg.Tracing.Enabled(), "OTEL_SDK_DISABLED wins")
	}
}

func TestCarrierRoundTripsTraceAndRequestID(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewInMemoryExporter()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("t").Start(context.Background(), "parent")
	defer span.End()
	ctx = tracing.WithRequestID(ctx, "req-123")

	h := tracing.Headers(ctx)
	require.True(t, tracing.HasContext(h))
	require.Contains(t, h["baggage"], "req-123")

	back := tracing.Extract(context.Background(), h)
	require.Equal(t, span.SpanContext().TraceID(), trace.SpanContextFromContext(back).TraceID())
	require.Equal(t, "req-123", tracing.RequestID(back))

	// Nothing to carry: nil, and a bad request id is not taken.
	require.Nil(t, tracing.Headers(context.Background()))
	onlyID := tracing.Headers(tracing.WithRequestID(context.Background(), "req-9"))
	require.Contains(t, onlyID["baggage"], "req-9", "a request id without a trace is still carried")
	require.NotContains(t, onlyID, "traceparent")
	require.Empty(t, tracing.RequestID(tracing.WithRequestID(context.Background(), "a\r\nb")))

	// Log lines of the extracted context name the trace.
	var buf bytes.Buffer
	l := tracing.LogContext(back, zerolog.New(&buf).With(), true).Logger()
	l.Info().Msg("x")
	require.Contains(t, buf.String(), `"trace_id":"`+span.SpanContext().TraceID().String()+`"`)
	require.Contains(t, buf.String(), `"request_id":"req-123"`)
	require.Equal(t, map[string]string{"traceparent": h["traceparent"]}, tracing.Only(map[string]string{"traceparent": h["traceparent"], "x": "y"}))
}
