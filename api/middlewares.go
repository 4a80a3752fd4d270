package api

import (
	"github.com/go-redis/redis_rate/v10"
	"github.com/labstack/echo/v4"
)

// middlewares are the per-route middleware, built once from Deps.
type middlewares struct {
	service       echo.MiddlewareFunc // X-API-Key required
	userOrService echo.MiddlewareFunc // API key or SimpleJWT bearer token
	idempotent    echo.MiddlewareFunc // Idempotency-Key replay
	limitAnon     echo.MiddlewareFunc
	limitUser     echo.MiddlewareFunc
	limitPayment  echo.MiddlewareFunc
	limitOTP      echo.MiddlewareFunc
}

func newMiddlewares(d Deps, l *redis_rate.Limiter) middlewares {
	prefix := d.Config.Redis.KeyPrefix
	return middlewares{
		service:       requireServiceKey(d.Config.Auth.APIKeys),
		userOrService: requireUserOrService(d.Config.Auth.APIKeys, d.Config.Auth.JWTSecret),
		idempotent:    idempotent(d.Pool),
		limitAnon:     rateLimit(l, prefix, "anon", limitAnon),
		limitUser:     rateLimit(l, prefix, "user", limitUser),
		limitPayment:  rateLimit(l, prefix, "payment", limitPayment),
		limitOTP:      rateLimit(l, prefix, "otp", limitOTP),
	}
}
