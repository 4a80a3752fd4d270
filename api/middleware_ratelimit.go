package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/labstack/echo/v4"
)

// Rate-limit scopes from the scalability guide.
var (
	limitAnon    = redis_rate.PerHour(100)
	limitUser    = redis_rate.PerHour(1000)
	limitPayment = redis_rate.PerMinute(10)
	limitOTP     = redis_rate.PerHour(5)
)

// rateLimit applies a GCRA limit (shared by every API replica through Redis)
// per scope and caller: users by user id, anonymous callers by client IP.
// Service principals (API keys) are trusted backends and are not limited here.
// A refused request gets 429 with Retry-After. When Redis is unreachable the
// request is let through (fail open): limits protect capacity, they are not a
// security boundary, and a Redis outage must not stop payments.
func rateLimit(l *redis_rate.Limiter, prefix, scope string, limit redis_rate.Limit) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if l == nil {
				return next(c)
			}
			who := "ip:" + c.RealIP()
			if p, ok := principalOf(c); ok {
				if p.Kind == "service" {
					return next(c)
				}
				who = p.Name
			}
			res, err := l.Allow(c.Request().Context(), prefix+"rl:"+scope+":"+who, limit)
			if err != nil {
				zerologCtx(c).Warn().Err(err).Str("scope", scope).Msg("rate limiter unavailable; allowing")
				return next(c)
			}
			h := c.Response().Header()
			h.Set("RateLimit-Limit", strconv.Itoa(limit.Rate))
			h.Set("RateLimit-Remaining", strconv.Itoa(res.Remaining))
			if res.Allowed == 0 {
				secs := int(res.RetryAfter.Round(time.Second) / time.Second)
				if secs < 1 {
					secs = 1
				}
				return NewProblem(http.StatusTooManyRequests, "rate limit exceeded for "+scope).
					WithHeader("Retry-After", strconv.Itoa(secs))
			}
			return next(c)
		}
	}
}
