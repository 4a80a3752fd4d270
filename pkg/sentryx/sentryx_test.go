package sentryx_test

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"fundigo/pkg/config"
	"fundigo/pkg/sentryx"
)

// A local HTTP server stands in for Sentry: an error captured with the DSN
// pointing at it arrives there, tagged with the trace id, with the phone
// number in its message masked.
func TestCapturedErrorReachesSentry(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err == nil {
				rd = zr
			}
		}
		b, _ := io.ReadAll(rd)
		mu.Lock()
		bodies = append(bodies, r.URL.Path+" "+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)

	dsn := "http://publickey@" + strings.TrimPrefix(srv.URL, "http://") + "/1"
	r, err := sentryx.New(config.Sentry{DSN: config.Secret(dsn), Environment: "test"}, sentryx.Info{Version: "t", Role: "api"})
	require.NoError(t, err)
	require.True(t, r.Enabled())

	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0xab, 1}, SpanID: trace.SpanID{1}})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	r.CaptureError(ctx, errors.New("push to 254708374149 failed"), map[string]string{"task_type": "push:send"})
	require.True(t, r.Flush(5*time.Second))

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, bodies, 1)
	got := bodies[0]
	require.Contains(t, got, "/api/1/")
	require.Contains(t, got, sc.TraceID().String())
	require.Contains(t, got, "push:send")
	require.Contains(t, got, "push to [redacted] failed")
	require.NotContains(t, got, "254708374149")
}

func TestNoDSNReportsNothing(t *testing.T) {
	t.Parallel()
	r, err := sentryx.New(config.Sentry{}, sentryx.Info{})
	require.NoError(t, err)
	require.False(t, r.Enabled())
	r.CaptureError(context.Background(), errors.New("x"), nil) // no panic, nothing sent
	require.True(t, r.Flush(time.Millisecond))
	var nilR *sentryx.Reporter
	nilR.CapturePanic(context.Background(), "boom", nil)
}

func TestInvalidDSNIsAnErrorWithoutTheDSN(t *testing.T) {
	t.Parallel()
	_, err := sentryx.New(config.Sentry{DSN: "http://127.0.0.1/1"}, sentryx.Info{})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "127.0.0.1")
}
