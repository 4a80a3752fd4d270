package api

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
)

func TestUnknownRouteAndMethodAreProblems(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)

	r := s.do(t, http.MethodGet, "/v1/nope", nil, nil)
	require.Equal(t, http.StatusNotFound, r.Code)
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	require.EqualValues(t, 404, r.JSON(t)["status"])

	r = s.do(t, http.MethodDelete, "/healthz", nil, nil)
	require.Equal(t, http.StatusMethodNotAllowed, r.Code)
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	require.Equal(t, "DELETE is not allowed on this path; it takes OPTIONS, GET", r.JSON(t)["detail"], "405 says why")
}

func TestBadAPIKeyIs401AndNeverLogged(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	const wrong = "wrong-key-that-must-not-be-logged"
	r := s.do(t, http.MethodGet, "/v1/tasks/abc", nil, map[string]string{"X-API-Key": wrong})
	require.Equal(t, http.StatusUnauthorized, r.Code)
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	require.NotEmpty(t, r.Header.Get("WWW-Authenticate"))

	r = s.do(t, http.MethodGet, "/v1/tasks/abc", nil, serviceAuth())
	require.Equal(t, http.StatusNotFound, r.Code, "a good key passes auth; the task does not exist")

	logs := s.logs.String()
	require.Contains(t, logs, `"status":401`)
	require.NotContains(t, logs, wrong)
	require.NotContains(t, logs, testKey)
}

func TestUserJWT(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	sign := func(claims jwt.MapClaims, secret string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
		require.NoError(t, err)
		return "Bearer " + tok
	}
	exp := time.Now().Add(time.Hour).Unix()
	good := sign(jwt.MapClaims{"user_id": 42, "token_type": "access", "exp": exp}, "jwt-test-secret-0123456789")
	r := s.do(t, http.MethodGet, "/v1/tasks/x", nil, map[string]string{"Authorization": good})
	require.Equal(t, http.StatusNotFound, r.Code, "authenticated, task unknown")

	for name, h := range map[string]string{
		"wrong secret": sign(jwt.MapClaims{"user_id": 42, "exp": exp}, "another-secret-0123456789"),
		"refresh":      sign(jwt.MapClaims{"user_id": 42, "token_type": "refresh", "exp": exp}, "jwt-test-secret-0123456789"),
		"expired":      sign(jwt.MapClaims{"user_id": 42, "exp": time.Now().Add(-time.Minute).Unix()}, "jwt-test-secret-0123456789"),
		"no user":      sign(jwt.MapClaims{"exp": exp}, "jwt-test-secret-0123456789"),
	} {
		r := s.do(t, http.MethodGet, "/v1/tasks/x", nil, map[string]string{"Authorization": h})
		require.Equal(t, http.StatusUnauthorized, r.Code, name)
	}
}

func TestReadyzReportsEachCheckAndRecovers(t *testing.T) {
	t.Parallel()
	var redisDown atomic.Bool
	s := newTestServer(t, func(d *Deps) {
		d.Checks = map[string]Checker{
			"postgres": CheckFunc(d.Pool.Ping),
			"redis": CheckFunc(func(ctx context.Context) error {
				if redisDown.Load() {
					return errors.New("down")
				}
				return d.Redis.Ping(ctx).Err()
			}),
		}
	})
	r := s.do(t, http.MethodGet, "/readyz", nil, nil)
	require.Equal(t, http.StatusOK, r.Code)
	require.Equal(t, map[string]any{"postgres": "ok", "redis": "ok"}, r.JSON(t)["checks"])

	redisDown.Store(true)
	r = s.do(t, http.MethodGet, "/readyz", nil, nil)
	require.Equal(t, http.StatusServiceUnavailable, r.Code)
	require.Equal(t, "unavailable", r.JSON(t)["checks"].(map[string]any)["redis"])

	redisDown.Store(false)
	require.Equal(t, http.StatusOK, s.do(t, http.MethodGet, "/readyz", nil, nil).Code)
}

func TestIdempotencyReplaysAndRejectsDifferentBodies(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	s := newTestServer(t, nil)
	s.e.POST("/v1/test/echo", func(c echo.Context) error {
		var in struct {
			N int `json:"n"`
		}
		if err := bindStrict(c, &in); err != nil {
			return err
		}
		return c.JSON(http.StatusAccepted, map[string]int{"n": in.N, "call": int(calls.Add(1))})
	}, s.deps.middlewaresForTest().service, s.deps.middlewaresForTest().idempotent)

	h := serviceAuth("Idempotency-Key", "k1")
	first := s.do(t, http.MethodPost, "/v1/test/echo", map[string]int{"n": 1}, h)
	require.Equal(t, http.StatusAccepted, first.Code)
	again := s.do(t, http.MethodPost, "/v1/test/echo", map[string]int{"n": 1}, h)
	require.Equal(t, http.StatusAccepted, again.Code)
	require.JSONEq(t, string(first.Body), string(again.Body))
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	require.EqualValues(t, 1, calls.Load(), "the handler ran once")

	conflict := s.do(t, http.MethodPost, "/v1/test/echo", map[string]int{"n": 2}, h)
	require.Equal(t, http.StatusConflict, conflict.Code)

	bad := s.do(t, http.MethodPost, "/v1/test/echo", `{"n":1,"x":2}`, serviceAuth("Idempotency-Key", "k2"))
	require.Equal(t, http.StatusUnprocessableEntity, bad.Code)
	require.Equal(t, "x", bad.JSON(t)["errors"].([]any)[0].(map[string]any)["field"])

	malformed := s.do(t, http.MethodPost, "/v1/test/echo", `{"n":`, serviceAuth())
	require.Equal(t, http.StatusBadRequest, malformed.Code)

	wrongType := s.do(t, http.MethodPost, "/v1/test/echo", `{"n":"one"}`, serviceAuth())
	require.Equal(t, http.StatusUnprocessableEntity, wrongType.Code)
	require.Equal(t, "must be an integer", wrongType.JSON(t)["errors"].([]any)[0].(map[string]any)["message"],
		"in JSON words, not Go types")
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(d *Deps) { d.Config.HTTP.BodyLimit = "1K" })
	s.e.POST("/v1/test/sink", func(c echo.Context) error {
		var v map[string]any
		if err := bindStrict(c, &v); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
	big := `{"a":"` + string(make([]byte, 0)) + stringsRepeat("x", 4096) + `"}`
	r := s.do(t, http.MethodPost, "/v1/test/sink", big, nil)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.Code)
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
}

func stringsRepeat(s string, n int) string {
	out := make([]byte, 0, len(s)*n)
	for i := 0; i < n; i++ {
		out = append(out, s...)
	}
	return string(out)
}

func (d Deps) middlewaresForTest() middlewares {
	m, err := newMiddlewares(d, nil)
	if err != nil {
		panic(err) // the test server was built with the same deps
	}
	return m
}

// A configuration the server cannot use is an error naming the variable,
// not a panic (config.Load refuses these first; NewServer may be called
// with a Config built some other way).
func TestNewServerReportsBadConfiguration(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(func(string) string { return "" })
	require.NoError(t, err)
	proxies := cfg
	proxies.HTTP.TrustedProxies = []string{"10.0.0.0/8", "not-a-cidr"}
	_, err = NewServer(Deps{Log: zerolog.Nop(), Config: proxies})
	require.ErrorContains(t, err, "FUNDIGO_TRUSTED_PROXIES")
	sources := cfg
	sources.Payments.AllowedCIDRs = []string{"196.201.214.0/24", "300.1.1.1"}
	_, err = NewServer(Deps{Log: zerolog.Nop(), Config: sources})
	require.ErrorContains(t, err, "FUNDIGO_MPESA_ALLOWED_CIDRS")
}

func TestBindStrictRefusesNUL(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	s.e.POST("/v1/test/nul", func(c echo.Context) error {
		var v map[string]string
		if err := bindStrict(c, &v); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
	r := s.do(t, http.MethodPost, "/v1/test/nul", `{"job_id":"a\u0000b"}`, nil)
	require.Equal(t, http.StatusUnprocessableEntity, r.Code)
	r = s.do(t, http.MethodPost, "/v1/test/nul", `{"job_id":"ab"}`, nil)
	require.Equal(t, http.StatusNoContent, r.Code)
}
