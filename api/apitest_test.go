package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks/taskstest"
)

// testKey is the service key every API test server accepts.
const testKey = "test-service-key-0123456789"

// syncBuffer is a goroutine-safe log sink for assertions on log output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testServer struct {
	e    *echo.Echo
	deps Deps
	logs *syncBuffer
}

// newTestServer builds the API over a fresh schema, the test's Redis key
// prefix and Asynq queues; mutate may adjust Deps before the server is built.
func newTestServer(t testing.TB, mutate func(*Deps)) *testServer {
	t.Helper()
	cfg, err := config.Load(func(k string) string {
		switch k {
		case "FUNDIGO_API_KEYS":
			return "tests:" + testKey
		case "FUNDIGO_JWT_SECRET":
			return "jwt-test-secret-0123456789"
		}
		return ""
	})
	require.NoError(t, err)
	cfg.Redis.KeyPrefix = taskstest.Prefix(t)
	// A loaded test machine (race detector, parallel packages) can take
	// longer than the production budget to answer; a limiter that failed
	// open would make the throttle tests flaky. The fail-open test sets
	// its own.
	cfg.Throttle.RedisBudget = 2 * time.Second
	logs := &syncBuffer{}
	d := Deps{
		Log:       zerolog.New(logs),
		Config:    cfg,
		Pool:      storetest.NewPool(t),
		Redis:     taskstest.Redis(t),
		Tasks:     taskstest.Client(t),
		Inspector: taskstest.Inspector(t),
		Queues:    taskstest.Queues(t),
	}
	if mutate != nil {
		mutate(&d)
	}
	e, err := NewServer(d)
	require.NoError(t, err)
	return &testServer{e: e, deps: d, logs: logs}
}

type testResponse struct {
	Code   int
	Header http.Header
	Body   []byte
}

func (r testResponse) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// do sends a request; body may be nil, a string or a value to marshal.
func (s *testServer) do(t *testing.T, method, path string, body any, headers map[string]string) testResponse {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := s.serve(t, req)
	return testResponse{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

func serviceAuth(extra ...string) map[string]string {
	h := map[string]string{"X-API-Key": testKey}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return h
}
