package api

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
	"fundigo/pkg/tasks/taskstest"
)

// doFrom sends a request from the TCP peer remote ("ip:port").
func (s *testServer) doFrom(t *testing.T, remote, method, path string, body []byte, headers map[string]string) testResponse {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.RemoteAddr = remote
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := s.serve(t, req)
	return testResponse{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// noPaymentThrottle lifts the per-customer payment limit and the per-phone
// STK caps for tests that create many payments for one customer or phone.
func noPaymentThrottle(d *Deps) {
	d.Config.Throttle.Payment = config.Rate{}
	noSTKCaps(d)
}

// noSTKCaps lifts the per-phone STK caps.
func noSTKCaps(d *Deps) {
	d.Config.Throttle.STKMaxOpenPerPhone, d.Config.Throttle.STKMaxPerPhoneHour = 0, 0
}

func userToken(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	if _, ok := claims["exp"]; !ok {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
	}
	claims["token_type"] = "access"
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("jwt-test-secret-0123456789"))
	require.NoError(t, err)
	return "Bearer " + tok
}

func require429(t *testing.T, r testResponse) {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, r.Code, "%s", r.Body)
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After must be whole seconds")
	require.Positive(t, secs)
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	require.Contains(t, r.JSON(t)["detail"], "Request was throttled. Expected available in")
}

// The guide's anon scope (100/hour per client IP) covers failed
// authentication: the 101st wrong key of the hour gets 429, and of 500 wrong
// keys 400 do. Another IP, and a good key from the same IP, are unaffected.
func TestAnonThrottleChargesFailedAuthentication(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	const ip = "203.0.113.7:4000"
	var limited int
	for i := 1; i <= 500; i++ {
		r := s.doFrom(t, ip, http.MethodGet, "/v1/tasks/x", nil, map[string]string{"X-API-Key": fmt.Sprintf("wrong-%d", i)})
		switch {
		case i <= 100:
			require.Equal(t, http.StatusUnauthorized, r.Code, "attempt %d", i)
		case i == 101:
			require429(t, r)
			fallthrough
		default:
			require.Equal(t, http.StatusTooManyRequests, r.Code, "attempt %d", i)
			limited++
		}
	}
	require.Equal(t, 400, limited)

	// A bad bearer token and no credentials at all count the same.
	r := s.doFrom(t, ip, http.MethodGet, "/v1/technicians/top", nil, map[string]string{"Authorization": "Bearer nonsense"})
	require429(t, r)
	require429(t, s.doFrom(t, ip, http.MethodPost, "/v1/payments", []byte(`{}`), nil))

	r = s.doFrom(t, "198.51.100.9:4000", http.MethodGet, "/v1/tasks/x", nil, map[string]string{"X-API-Key": "wrong"})
	require.Equal(t, http.StatusUnauthorized, r.Code, "another client IP has its own budget")
	r = s.doFrom(t, ip, http.MethodGet, "/v1/tasks/x", nil, serviceAuth())
	require.Equal(t, http.StatusNotFound, r.Code, "valid credentials are not anonymous")
}

// Unknown /v1 paths are unauthenticated API routes: scanners spend their
// anonymous budget there too.
func TestAnonThrottleOnUnknownRoutes(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(d *Deps) { d.Config.Throttle.Anon = config.Rate{N: 3, Period: time.Hour} })
	for i := 0; i < 3; i++ {
		r := s.doFrom(t, "203.0.113.8:1", http.MethodGet, "/v1/wp-admin/"+strconv.Itoa(i), nil, nil)
		require.Equal(t, http.StatusNotFound, r.Code)
		require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	}
	require.Equal(t, http.StatusMethodNotAllowed, s.doFrom(t, "203.0.113.88:2", http.MethodDelete, "/v1/payments", nil, nil).Code,
		"a known path with another method is still 405")
	require429(t, s.doFrom(t, "203.0.113.8:1", http.MethodGet, "/v1/.env", nil, nil))
	require.Equal(t, http.StatusOK, s.doFrom(t, "203.0.113.8:1", http.MethodGet, "/healthz", nil, nil).Code,
		"probes are not API routes")
}

// Two API replicas sharing one Redis enforce one budget: 60 failures on one
// and 40 on the other spend the 100, and the next one on either is refused.
func TestThrottleBudgetIsSharedAcrossReplicas(t *testing.T) {
	t.Parallel()
	a := newTestServer(t, nil)
	b := newTestServer(t, func(d *Deps) {
		d.Redis = taskstest.Redis(t) // its own connection, the same Redis
		d.Config.Redis.KeyPrefix = a.deps.Config.Redis.KeyPrefix
	})
	const ip = "203.0.113.9:5000"
	wrong := map[string]string{"X-API-Key": "wrong"}
	for i := 0; i < 100; i++ {
		s := a
		if i%5 >= 3 {
			s = b
		}
		require.Equal(t, http.StatusUnauthorized, s.doFrom(t, ip, http.MethodGet, "/v1/tasks/x", nil, wrong).Code, "attempt %d", i+1)
	}
	require429(t, a.doFrom(t, ip, http.MethodGet, "/v1/tasks/x", nil, wrong))
	require429(t, b.doFrom(t, ip, http.MethodGet, "/v1/tasks/x", nil, wrong))
}

// Users are limited per user id, service keys per key; neither spends the
// other's budget.
func TestUserAndServiceScopes(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(d *Deps) {
		d.Config.Throttle.User = config.Rate{N: 5, Period: time.Hour}
		d.Config.Throttle.Service = config.Rate{N: 7, Period: time.Minute}
	})
	u1 := map[string]string{"Authorization": userToken(t, jwt.MapClaims{"user_id": 1})}
	u2 := map[string]string{"Authorization": userToken(t, jwt.MapClaims{"user_id": 2})}
	for i := 0; i < 5; i++ {
		require.Equal(t, http.StatusNotFound, s.do(t, http.MethodGet, "/v1/tasks/x", nil, u1).Code)
	}
	r := s.do(t, http.MethodGet, "/v1/tasks/x", nil, u1)
	require429(t, r)
	require.Equal(t, "5", r.Header.Get("RateLimit-Limit"))
	require.Equal(t, http.StatusNotFound, s.do(t, http.MethodGet, "/v1/tasks/x", nil, u2).Code, "another user")

	for i := 0; i < 7; i++ {
		require.Equal(t, http.StatusNotFound, s.do(t, http.MethodGet, "/v1/notifications/"+strconv.Itoa(i), nil, serviceAuth()).Code)
	}
	require429(t, s.do(t, http.MethodGet, "/v1/tasks/x", nil, serviceAuth()))
}

// The payment scope is per customer, whichever key calls: the Django app's
// service key does not exempt it. 2,000 payments for one customer and phone
// from one key: 10 accepted, the rest 429; another customer is unaffected.
func TestPaymentThrottlePerCustomerDespiteServiceKey(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, noSTKCaps) // the phone caps are TestSTKOpenCapPerPhoneAtTheAPI's

	body := func(cust string, i int) []byte {
		return []byte(fmt.Sprintf(`{"job_id":"job-%d","customer_id":%q,"phone":"0712345678","amount":100}`, i, cust))
	}
	const total = 2000
	var accepted, limited atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	next := atomic.Int64{}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > total {
					return
				}
				r := s.do(t, http.MethodPost, "/v1/payments", body("cust-1", i), serviceAuth())
				switch r.Code {
				case http.StatusAccepted:
					accepted.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				default:
					t.Errorf("payment %d: %d %s", i, r.Code, r.Body)
					return
				}
			}
		}()
	}
	wg.Wait()
	// 10 at once, then one more each 6 s the loop took (the budget refills).
	refilled := int64(time.Since(start) / (6 * time.Second))
	require.GreaterOrEqual(t, accepted.Load(), int64(10))
	require.LessOrEqual(t, accepted.Load(), 10+refilled+1)
	require.EqualValues(t, total, accepted.Load()+limited.Load())

	r := s.do(t, http.MethodPost, "/v1/payments", body("cust-2", 1), serviceAuth())
	require.Equal(t, http.StatusAccepted, r.Code, "another customer: %s", r.Body)
}

// Neither padding the body nor the id hides the customer from the limiter.
func TestPaymentThrottleSeesThroughPadding(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(d *Deps) { d.Config.Throttle.Payment = config.Rate{N: 1, Period: time.Hour}; noSTKCaps(d) })
	r := s.do(t, http.MethodPost, "/v1/payments",
		`{"job_id":"job-1","customer_id":"cust-1","phone":"0712345678","amount":100}`, serviceAuth())
	require.Equal(t, http.StatusAccepted, r.Code, "%s", r.Body)
	padded := append(append([]byte(`{"job_id":"job-pad",`), bytes.Repeat([]byte(" "), 200<<10)...),
		[]byte(`"customer_id":"cust-1","phone":"0712345678","amount":100}`)...)
	require429(t, s.do(t, http.MethodPost, "/v1/payments", padded, serviceAuth()))
	require429(t, s.do(t, http.MethodPost, "/v1/payments",
		`{"job_id":"job-2","customer_id":"  cust-1\t","phone":"0712345678","amount":100}`, serviceAuth()))
	require429(t, s.do(t, http.MethodPost, "/v1/payments",
		`{"job_id":"job-3","Customer_ID":"cust-1","phone":"0712345678","amount":100}`, serviceAuth()))
}

// The OTP scope is reserved (no route sends codes yet); the limiter itself
// allows 5 codes per phone per hour.
func TestOTPScopeLimiter(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	th := newThrottler(s.deps.Redis, s.deps.Config.Redis.KeyPrefix, s.deps.Config.Throttle, nil)
	send := func(msisdn string) error {
		c := s.e.NewContext(httptest.NewRequest(http.MethodPost, "/", nil), httptest.NewRecorder())
		return th.otp(c, msisdn)
	}
	for i := 0; i < 5; i++ {
		require.NoError(t, send("254712345678"))
	}
	err := send("254712345678")
	var p *Problem
	require.ErrorAs(t, err, &p)
	require.Equal(t, http.StatusTooManyRequests, p.Status)
	require.NoError(t, send("254712345679"), "another phone")

	keys, err := s.deps.Redis.Keys(t.Context(), s.deps.Config.Redis.KeyPrefix+"*").Result()
	require.NoError(t, err)
	for _, k := range keys {
		require.NotContains(t, k, "712345678", "phone numbers are not stored in Redis keys")
	}
}

// Rates of 0 disable a scope.
func TestZeroRateDisablesScope(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(d *Deps) { d.Config.Throttle.Anon = config.Rate{} })
	for i := 0; i < 150; i++ {
		require.Equal(t, http.StatusUnauthorized, s.doFrom(t, "203.0.113.10:1", http.MethodGet, "/v1/tasks/x", nil, map[string]string{"X-API-Key": "no"}).Code)
	}
}

// silentRedis accepts connections and never answers: a sick Redis.
func silentRedis(t *testing.T) *redis.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns sync.WaitGroup
	done := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() { defer conns.Done(); <-done; _ = c.Close() }()
		}
	}()
	c := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	t.Cleanup(func() { _ = c.Close(); close(done); _ = ln.Close(); conns.Wait() })
	return c
}

// A sick Redis does not stop the API: each decision gives up within its
// budget and lets the request through, and after a few failures the breaker
// stops asking Redis at all. Decisions show in the metrics.
func TestThrottleFailsOpenWhenRedisIsSick(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s := newTestServer(t, func(d *Deps) {
		d.Redis = silentRedis(t)
		d.Registry = reg
		d.Config.Throttle.Anon = config.Rate{N: 1, Period: time.Hour}
		d.Config.Throttle.RedisBudget = 50 * time.Millisecond
	})
	for i := 0; i < 20; i++ {
		r := s.doFrom(t, "203.0.113.11:1", http.MethodGet, "/v1/tasks/x", nil, map[string]string{"X-API-Key": "no"})
		require.Equal(t, http.StatusUnauthorized, r.Code, "limit 1/hour, but Redis cannot say: let through")
	}
	decisions := registerCounter(reg, newDecisionsCounter())
	require.Equal(t, 20.0, counterValue(t, decisions.WithLabelValues("anon", "failed_open")))

	th := newThrottler(s.deps.Redis, "x", s.deps.Config.Throttle, nil)
	c := s.e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	for i := 0; i < 5; i++ {
		require.NoError(t, th.anon(c))
	}
	require.Equal(t, gobreaker.StateOpen, th.breaker.State(), "five failures in a row open the breaker")
	_, err := th.breaker.Execute(func() (*redis_rate.Result, error) {
		t.Fatal("an open breaker does not call Redis")
		return nil, nil
	})
	require.ErrorIs(t, err, gobreaker.ErrOpenState)
	require.NoError(t, th.anon(c), "open breaker: allowed")
}

// Decisions are counted per scope.
func TestThrottleDecisionsAreCounted(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s := newTestServer(t, func(d *Deps) {
		d.Registry = reg
		d.Config.Throttle.Anon = config.Rate{N: 1, Period: time.Hour}
	})
	wrong := map[string]string{"X-API-Key": "no"}
	require.Equal(t, http.StatusUnauthorized, s.doFrom(t, "203.0.113.12:1", http.MethodGet, "/v1/tasks/x", nil, wrong).Code)
	require429(t, s.doFrom(t, "203.0.113.12:1", http.MethodGet, "/v1/tasks/x", nil, wrong))
	decisions := registerCounter(reg, newDecisionsCounter())
	require.Equal(t, 1.0, counterValue(t, decisions.WithLabelValues("anon", "allowed")))
	require.Equal(t, 1.0, counterValue(t, decisions.WithLabelValues("anon", "limited")))
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}

// A 429 is not an answer to replay: a limit lifts, and the retry with the
// same Idempotency-Key must run again.
func TestIdempotencyDoesNotStoreA429(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	var calls atomic.Int64
	m := s.deps.middlewaresForTest()
	s.e.POST("/v1/test/capped", func(c echo.Context) error {
		if calls.Add(1) == 1 {
			return NewProblem(http.StatusTooManyRequests, "capped").WithHeader("Retry-After", "1")
		}
		return c.JSON(http.StatusAccepted, map[string]string{"ok": "yes"})
	}, m.service, m.idempotent)
	h := serviceAuth("Idempotency-Key", "cap-1")
	require.Equal(t, http.StatusTooManyRequests, s.do(t, http.MethodPost, "/v1/test/capped", `{}`, h).Code)
	r := s.do(t, http.MethodPost, "/v1/test/capped", `{}`, h)
	require.Equal(t, http.StatusAccepted, r.Code)
	r = s.do(t, http.MethodPost, "/v1/test/capped", `{}`, h)
	require.Equal(t, http.StatusAccepted, r.Code)
	require.Equal(t, "true", r.Header.Get("Idempotent-Replayed"), "the success is stored")
	require.EqualValues(t, 2, calls.Load())
}
