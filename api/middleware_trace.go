package api

import (
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"fundigo/pkg/tracing"
)

// traced wraps the Echo instance in otelhttp: one server span per request,
// continuing the caller's W3C traceparent. Probes are not traced. The span
// is named by traceRoute once Echo knows the route. With tracing off
// (tracing.On, decided when the server is built) there is no span to
// record: the request only takes a caller's trace context (traceparent,
// baggage) into its context, so it is passed on, without otelhttp's
// per-request wrapping and attributes.
func traced(e *echo.Echo) http.Handler {
	if !tracing.On() {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get(tracing.HeaderTraceparent) != "" || r.Header.Get(tracing.HeaderBaggage) != "" {
				r = r.WithContext(tracing.Propagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
			}
			e.ServeHTTP(w, r)
		})
	}
	return otelhttp.NewHandler(e, "http.server",
		otelhttp.WithPropagators(tracing.Propagator()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return boundedMethod(r.Method) }),
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" && r.URL.Path != "/readyz" }),
	)
}

// traceRoute names the request's span "METHOD /route/template" (never the
// raw URL: ids and the webhook's secret path token stay out of traces),
// sets http.route, and puts the request id into the baggage so every task
// and event the request causes carries it (with tracing off too).
func traceRoute() echo.MiddlewareFunc {
	var (
		once   sync.Once
		routes map[string]bool
	)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if span := trace.SpanFromContext(req.Context()); span.IsRecording() {
				once.Do(func() { routes = registeredPaths(c.Echo()) })
				route := c.Path()
				if !routes[route] {
					route = "unmatched"
				}
				span.SetName(boundedMethod(req.Method) + " " + route)
				span.SetAttributes(attribute.String("http.route", route))
			}
			ctx := tracing.WithRequestID(req.Context(), c.Response().Header().Get(echo.HeaderXRequestID))
			c.SetRequest(req.WithContext(ctx))
			return next(c)
		}
	}
}
