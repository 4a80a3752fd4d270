// Package api is the thin HTTP layer: Echo routes, middleware (request IDs,
// access logs, recovery, body limits, auth, idempotency, rate limits) and one
// file per resource. Handlers validate, write state (or enqueue) and answer;
// all real work happens in workers. Errors are returned by handlers and mapped
// to RFC 9457 problem+json in exactly one place (problem.go).
package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"fundigo/pkg/config"
	"fundigo/pkg/live"
	"fundigo/pkg/sentryx"
	"fundigo/pkg/tasks"
)

// Checker reports whether a dependency is reachable; used by /readyz.
type Checker interface {
	Ping(ctx context.Context) error
}

// CheckFunc adapts a function to Checker.
type CheckFunc func(ctx context.Context) error

// Ping calls f.
func (f CheckFunc) Ping(ctx context.Context) error { return f(ctx) }

// Publisher publishes one message and returns once RabbitMQ confirmed it.
// Safe for concurrent use.
type Publisher interface {
	Publish(ctx context.Context, exchange, routingKey string, msg amqp.Publishing) error
}

// Deps are the dependencies of every handler. cmd builds them; tests build
// them over per-test resources.
type Deps struct {
	Log       zerolog.Logger
	Config    config.Config
	Pool      *pgxpool.Pool
	Redis     redis.UniversalClient
	Tasks     *asynq.Client
	Inspector *asynq.Inspector
	Queues    tasks.Queues
	Publisher Publisher
	// Checks are the readiness checks by name (postgres, redis, rabbitmq),
	// all required; used when Readiness is nil.
	Checks map[string]Checker
	// Readiness answers /readyz (the role's required and optional checks).
	Readiness http.Handler
	// Registry receives the HTTP metrics (scraped on the admin listener;
	// the public API serves no /metrics); nil means no HTTP metrics.
	Registry *prometheus.Registry
	// Live is the live-update hub of GET /v1/stream and /v1/events (its
	// Run is the caller's); nil answers them 503.
	Live *live.Hub
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Errors receives every 5xx answer but 503 (panics included) for
	// Sentry; nil reports nothing.
	Errors *sentryx.Reporter
}

func (d *Deps) setDefaults() {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Checks == nil {
		d.Checks = map[string]Checker{}
	}
}

// NewServer builds the Echo instance with its middleware chain and every
// route. It reports a configuration it cannot serve with (an unparsable
// FUNDIGO_TRUSTED_PROXIES or FUNDIGO_MPESA_ALLOWED_CIDRS entry, which
// config.Load refuses first) as an error naming the variable.
func NewServer(deps Deps) (*echo.Echo, error) {
	deps.setDefaults()
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(deps.Log, deps.Errors)
	e.Server.ReadHeaderTimeout = 10 * time.Second
	e.Server.ReadTimeout = deps.Config.HTTP.ReadTimeout
	e.Server.WriteTimeout = deps.Config.HTTP.WriteTimeout

	e.Server.Handler = traced(e)
	e.Use(middleware.RequestID())
	e.Use(traceRoute())
	e.Use(accessLog(deps.Log))
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
		return err // logged once, by the error handler, as a 500
	}}))
	e.Use(requestDeadline(deps.Config.HTTP.RequestTimeout, isStreamRoute))
	if deps.Registry != nil {
		e.Use(httpMetrics(deps.Registry))
	}
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1024, Skipper: func(c echo.Context) bool {
		return leanRoute(c) || isStreamRoute(c)
	}}))
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Limit: deps.Config.HTTP.BodyLimit,
		// Webhook routes set their own, smaller limit and answer 413 themselves.
		// The live-update routes are GETs held open for hours.
		Skipper: func(c echo.Context) bool { return strings.HasPrefix(c.Path(), "/v1/webhooks/") || isStreamRoute(c) },
	}))

	ipx, err := clientIPExtractor(deps.Config.HTTP.TrustedProxies)
	if err != nil {
		return nil, err
	}
	e.IPExtractor = ipx

	var reg prometheus.Registerer
	if deps.Registry != nil {
		reg = deps.Registry
	}
	th := newThrottler(deps.Redis, deps.Config.Redis.KeyPrefix, deps.Config.Throttle, reg)
	e.Use(th.anonOnUnknownPath())
	m, err := newMiddlewares(deps, th)
	if err != nil {
		return nil, err
	}
	if err := registerRoutes(e, deps, m); err != nil {
		return nil, err
	}
	return e, nil
}

// clientIPExtractor is the one client-IP rule (c.RealIP() everywhere: the
// throttles, the webhook source check, the access log). Without trusted
// proxies the TCP peer is the client and X-Forwarded-For is ignored. With
// them, X-Forwarded-For is walked from the right past trusted hops only; the
// first untrusted hop is the client. Loopback and private ranges are not
// trusted unless listed.
func clientIPExtractor(proxies []string) (echo.IPExtractor, error) {
	if len(proxies) == 0 {
		return echo.ExtractIPDirect(), nil
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, s := range proxies {
		n, err := config.ParseCIDROrIP(s)
		if err != nil {
			return nil, fmt.Errorf("api: FUNDIGO_TRUSTED_PROXIES: %w", err)
		}
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: n.IP, Mask: n.Mask}))
	}
	return echo.ExtractIPFromXFFHeader(opts...), nil
}
