package api

import (
	"github.com/labstack/echo/v4"
)

// middlewares are the per-route middleware, built once from Deps.
//
// Throttling: the authentication middleware charge every request to its
// caller's scope (user or service) and every failed authentication to the
// client IP's anonymous scope, so authenticated routes list no limit of
// their own; the scopes below are the extra, route-specific ones.
type middlewares struct {
	service       echo.MiddlewareFunc // X-API-Key required
	userOrService echo.MiddlewareFunc // API key or SimpleJWT bearer token
	idempotent    echo.MiddlewareFunc // Idempotency-Key replay
	limitAnon     echo.MiddlewareFunc // unauthenticated /v1 routes, per client IP (none yet: unknown paths are charged in NewServer)
	limitPayment  echo.MiddlewareFunc // per customer (body customer_id), any principal
	webhook       echo.MiddlewareFunc // Daraja webhooks: per-source limit, token and source checks
	stream        streamAuth          // live-update routes: headers, ?token= or first message
}

// newMiddlewares builds the middleware; th nil limits nothing. It reports an unusable webhook source allowlist.
func newMiddlewares(d Deps, th *throttler) (middlewares, error) {
	webhook, err := webhookGuard(d.Config.Payments, th)
	if err != nil {
		return middlewares{}, err
	}
	return middlewares{
		service:       requireServiceKey(d.Config.Auth.APIKeys, th),
		userOrService: requireUserOrService(d.Config.Auth.APIKeys, d.Config.Auth.JWTSecret, th),
		idempotent:    idempotent(d.Pool),
		limitAnon:     th.limitAnonRoute(),
		limitPayment:  th.limitPayment(),
		webhook:       webhook,
		stream:        newStreamAuth(d, th),
	}, nil
}
