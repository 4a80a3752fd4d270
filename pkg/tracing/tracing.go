// Package tracing sets up OpenTelemetry for a fundigo process and carries
// W3C trace context (traceparent, tracestate, baggage) across the hops the
// standard instrumentation does not know: outbox rows, AMQP headers, Asynq
// task headers and inbox rows.
//
// Tracing is off by default (OTEL_TRACES_EXPORTER=none): Setup installs no
// exporter and leaves OpenTelemetry's global no-op tracer provider in
// place, so a span costs a context lookup. Propagation still works when off:
// an incoming traceparent is passed on unchanged, so a traced caller's trace
// is not broken by an untraced hop.
//
// The instrumented libraries (otelhttp, otelpgx, redisotel) use the global
// tracer provider and propagator, which Setup sets when tracing is on; this
// package's helpers use the same propagator.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"fundigo/pkg/config"
)

// ScopeName is the instrumentation scope of fundigo's own spans.
const ScopeName = "fundigo"

// Provider is the process's tracing; Shutdown flushes it. The zero value
// (tracing off) is valid.
type Provider struct {
	tp *sdktrace.TracerProvider
}

// Enabled reports whether spans are recorded and exported.
func (p *Provider) Enabled() bool { return p != nil && p.tp != nil }

// Shutdown exports the spans still buffered and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	if err := p.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing shutdown: %w", err)
	}
	return nil
}

type exporterKey struct{}

// WithExporter returns a context whose Setup exports to exp synchronously,
// whatever the configuration says: the test hook for an in-memory exporter
// (go.opentelemetry.io/otel/sdk/trace/tracetest).
func WithExporter(ctx context.Context, exp sdktrace.SpanExporter) context.Context {
	return context.WithValue(ctx, exporterKey{}, exp)
}

// Info names the process in the resource of its spans.
type Info struct {
	Version string
	Role    string
}

// Setup builds the tracer provider cfg asks for and, when tracing is on,
// installs it and the W3C propagator as OpenTelemetry's globals. Off (the
// default), it changes nothing and returns a Provider that is not Enabled.
func Setup(ctx context.Context, cfg config.Tracing, info Info) (*Provider, error) {
	test, _ := ctx.Value(exporterKey{}).(sdktrace.SpanExporter)
	if test == nil && !cfg.Enabled() {
		return &Provider{}, nil
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", cfg.ServiceName),
		attribute.String("service.version", info.Version),
		attribute.String("fundigo.role", info.Role),
	))
	if err != nil {
		return nil, fmt.Errorf("tracing resource: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sampler(cfg))}
	if test != nil {
		opts = append(opts, sdktrace.WithSyncer(test))
	} else {
		exp, err := exporter(ctx, cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator())
	return &Provider{tp: tp}, nil
}

func exporter(ctx context.Context, cfg config.Tracing) (sdktrace.SpanExporter, error) {
	if cfg.Protocol == "grpc" {
		var o []otlptracegrpc.Option
		if u := first(cfg.TracesEndpoint, cfg.Endpoint); u != "" {
			o = append(o, otlptracegrpc.WithEndpointURL(u))
		}
		exp, err := otlptracegrpc.New(ctx, o...)
		if err != nil {
			return nil, errors.New("tracing: otlp grpc exporter: invalid configuration") // the error may echo headers
		}
		return exp, nil
	}
	var o []otlptracehttp.Option
	switch {
	case cfg.TracesEndpoint != "":
		o = append(o, otlptracehttp.WithEndpointURL(cfg.TracesEndpoint))
	case cfg.Endpoint != "":
		o = append(o, otlptracehttp.WithEndpointURL(strings.TrimRight(cfg.Endpoint, "/")+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(ctx, o...)
	if err != nil {
		return nil, errors.New("tracing: otlp http exporter: invalid configuration")
	}
	return exp, nil
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func sampler(cfg config.Tracing) sdktrace.Sampler {
	switch cfg.Sampler {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(cfg.SamplerRatio())
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SamplerRatio()))
	default:
		return sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
}

// On reports whether Setup installed a tracer provider in this process
// (OpenTelemetry's global one is the SDK's): spans are recorded. Off, the
// instrumentation takes its lean path, as cheap as it was before tracing:
// it passes an incoming trace context on (and names it in log lines) but
// starts no span.
func On() bool {
	_, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider)
	return ok
}

// Tracer is the tracer of fundigo's own spans (the global provider's).
func Tracer() trace.Tracer { return otel.Tracer(ScopeName) }

// propagator is stateless; one value serves every call.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Propagator is W3C tracecontext plus baggage.
func Propagator() propagation.TextMapPropagator { return propagator }
