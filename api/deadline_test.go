package api

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/nettest"
	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
)

// TestRequestsAnswer503WithinDeadlineWhenPostgresIsBlackholed is issue 12
// row 9 (database side): with PostgreSQL black-holed, every API request that
// needs it answers 503 naming "postgres" within the request deadline, instead
// of hanging ~30 s.
func TestRequestsAnswer503WithinDeadlineWhenPostgresIsBlackholed(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.NewPoolURL(t)
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	proxy := nettest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	pool, err := store.Open(context.Background(), u.String(), store.PoolConfig{
		MaxConns: 4, ConnectTimeout: 300 * time.Millisecond, StatementTimeout: 5 * time.Second, LockTimeout: time.Second,
	})
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	const deadline = time.Second
	s := newTestServer(t, func(d *Deps) {
		d.Pool = pool
		d.Config.HTTP.RequestTimeout = deadline
		d.Config.Payments.CallbackToken = webhookToken
	})
	cb, err := os.ReadFile("../pkg/mpesa/testdata/success.json")
	require.NoError(t, err)
	payment := map[string]any{"job_id": "j", "customer_id": "c", "phone": "0712345678", "amount": 10}
	requests := []struct {
		method, path string
		body         any
		headers      map[string]string
	}{
		{http.MethodPost, "/v1/payments", payment, serviceAuth()},
		{http.MethodPost, "/v1/payments", payment, serviceAuth("Idempotency-Key", "k1")},
		{http.MethodGet, "/v1/payments/6f1d2c8e-5a4b-4e0f-9c3d-2b7a8e1f0c55", nil, serviceAuth()},
		{http.MethodGet, "/v1/tasks/some-task", nil, serviceAuth()},
		{http.MethodPost, "/v1/notifications", map[string]any{"user_ids": []string{"u"}, "title": "t"}, serviceAuth()},
		{http.MethodGet, "/v1/notifications/6f1d2c8e-5a4b-4e0f-9c3d-2b7a8e1f0c55", nil, serviceAuth()},
		{http.MethodGet, "/v1/users/u1/notification-preferences", nil, serviceAuth()},
		{http.MethodGet, "/v1/admin/schedules", nil, serviceAuth()},
		{http.MethodPost, "/v1/webhooks/daraja/stk/" + webhookToken, cb, nil},
	}
	// Warm the pool: connections exist and are then black-holed mid-use.
	require.Equal(t, http.StatusNotFound, s.do(t, http.MethodGet, requests[2].path, nil, serviceAuth()).Code)
	proxy.Blackhole(true)

	var wg sync.WaitGroup
	for _, r := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			resp := s.do(t, r.method, r.path, r.body, r.headers)
			took := time.Since(start)
			require.Equal(t, http.StatusServiceUnavailable, resp.Code, "%s %s: %s", r.method, r.path, resp.Body)
			require.Less(t, took, deadline+time.Second, "%s %s answered after %s", r.method, r.path, took)
			var p map[string]any
			require.NoError(t, json.Unmarshal(resp.Body, &p))
			require.Equal(t, "postgres", p["dependency"], "%s %s: %s", r.method, r.path, resp.Body)
		}()
	}
	wg.Wait()
}

// TestGetTaskIs503WhenTheTaskBackendCannotAnswer is issue 12 row 9: a task
// lookup that Redis could not answer is 503 naming redis, not 404.
func TestGetTaskIs503WhenTheTaskBackendCannotAnswer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now: connection refused
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: dead, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = insp.Close() })
	s := newTestServer(t, func(d *Deps) { d.Inspector = insp })
	r := s.do(t, http.MethodGet, "/v1/tasks/some-task", nil, serviceAuth())
	require.Equal(t, http.StatusServiceUnavailable, r.Code, string(r.Body))
	require.Equal(t, "redis", r.JSON(t)["dependency"])
	require.NotEmpty(t, r.Header.Get("Retry-After"))
}

// A handler that answered its own 503 naming the dependency keeps that name
// when the request deadline has passed too: the deadline middleware used to
// replace it with an anonymous "did not complete within its deadline" (the
// STK webhook under a black-holed PostgreSQL, when its inbox write returned at
// the deadline).
func TestDeadlineKeepsTheDependencyTheHandlerNamed(t *testing.T) {
	t.Parallel()
	e := echo.New()
	h := requestDeadline(10*time.Millisecond, nil)(func(c echo.Context) error {
		<-c.Request().Context().Done()
		p := NewProblem(http.StatusServiceUnavailable, "the callback could not be stored")
		p.Dependency = depPostgres
		return p
	})
	c := e.NewContext(httptest.NewRequest(http.MethodPost, "/", nil), httptest.NewRecorder())
	err := h(c)
	require.Equal(t, depPostgres, dependencyOf(err))
	p, ok := dependencyProblem(err)
	require.True(t, ok)
	require.Equal(t, http.StatusServiceUnavailable, p.Status)
	require.Equal(t, depPostgres, p.Dependency)
}
