package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"fundigo/pkg/tracing"
)

// With tracing off (no provider installed in this test process), a request
// starts no span but its handler's context still continues the caller's
// trace and carries the request id in its baggage, so the tasks and events
// it causes pass both on; a request without a traceparent has no trace.
func TestTracingOffStillPassesTheCallersTraceOn(t *testing.T) {
	t.Parallel()
	require.False(t, tracing.On())
	e := echo.New()
	e.Use(middleware.RequestID(), traceRoute())
	type seen struct {
		sc        trace.SpanContext
		recording bool
		rid       string
	}
	got := make(chan seen, 1)
	e.GET("/v1/x/:id", func(c echo.Context) error {
		ctx := c.Request().Context()
		got <- seen{trace.SpanContextFromContext(ctx), trace.SpanFromContext(ctx).IsRecording(), tracing.RequestID(ctx)}
		return c.NoContent(http.StatusNoContent)
	})
	h := traced(e)

	const parent = "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-01"
	req := httptest.NewRequest(http.MethodGet, "/v1/x/1", nil)
	req.Header.Set("traceparent", parent)
	req.Header.Set(echo.HeaderXRequestID, "req-9")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusNoContent, rec.Code)
	s := <-got
	require.Equal(t, "0102030405060708090a0b0c0d0e0f10", s.sc.TraceID().String())
	require.True(t, s.sc.IsRemote())
	require.False(t, s.recording)
	require.Equal(t, "req-9", s.rid)

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/v1/x/2", nil))
	s = <-got
	require.False(t, s.sc.IsValid())
	require.NotEmpty(t, s.rid, "the generated request id")
}
