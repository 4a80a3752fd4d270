// Package api is the thin HTTP layer: Echo routes, middleware (request IDs,
// access logs, recovery, body limits, auth, idempotency, rate limits) and one
// file per resource. Handlers validate, write state (or enqueue) and answer;
// all real work happens in workers. Errors are returned by handlers and mapped
// to RFC 9457 problem+json in exactly one place (problem.go).
package api

import (
	"context"
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
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Extra lets cmd hand domain-specific dependencies (clients, simulators'
	// URLs) to route makers without widening Deps for every domain.
	Extra map[string]any
}

func (d *Deps) setDefaults() {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Checks == nil {
		d.Checks = map[string]Checker{}
	}
}

// NewServer builds the Echo instance with its middleware chain and every route.
func NewServer(deps Deps) *echo.Echo {
	deps.setDefaults()
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(deps.Log)
	e.Server.ReadHeaderTimeout = 10 * time.Second
	e.Server.ReadTimeout = deps.Config.HTTP.ReadTimeout
	e.Server.WriteTimeout = deps.Config.HTTP.WriteTimeout

	e.Use(middleware.RequestID())
	e.Use(accessLog(deps.Log))
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
		return err // logged once, by the error handler, as a 500
	}}))
	e.Use(requestDeadline(deps.Config.HTTP.RequestTimeout))
	if deps.Registry != nil {
		e.Use(httpMetrics(deps.Registry))
	}
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1024, Skipper: leanRoute}))
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Limit: deps.Config.HTTP.BodyLimit,
		// Webhook routes set their own, smaller limit and answer 413 themselves.
		Skipper: func(c echo.Context) bool { return strings.HasPrefix(c.Path(), "/v1/webhooks/") },
	}))

	e.IPExtractor = clientIPExtractor(deps.Config.HTTP.TrustedProxies)

	var reg prometheus.Registerer
	if deps.Registry != nil {
		reg = deps.Registry
	}
	th := newThrottler(deps.Redis, deps.Config.Redis.KeyPrefix, deps.Config.Throttle, reg)
	e.Use(th.anonOnUnknownPath())
	registerRoutes(e, deps, newMiddlewares(deps, th))
	return e
}

// clientIPExtractor is the one client-IP rule (c.RealIP() everywhere: the
// throttles, the webhook source check, the access log). Without trusted
// proxies the TCP peer is the client and X-Forwarded-For is ignored. With
// them, X-Forwarded-For is walked from the right past trusted hops only; the
// first untrusted hop is the client. Loopback and private ranges are not
// trusted unless listed.
func clientIPExtractor(proxies []string) echo.IPExtractor {
	if len(proxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, s := range proxies {
		n, err := config.ParseCIDROrIP(s)
		if err != nil {
			panic("api: FUNDIGO_TRUSTED_PROXIES: " + err.Error()) // config.Load refuses it first
		}
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: n.IP, Mask: n.Mask}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
