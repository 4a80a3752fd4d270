package api

import (
	"context"
	"errors"
	"time"

	"github.com/labstack/echo/v4"

	"fundigo/pkg/store"
)

// requestDeadline gives every request's context a deadline d from its start
// (FUNDIGO_HTTP_REQUEST_TIMEOUT). Handlers, stores and clients take their
// context from the request, so a request stuck on a sick dependency (a
// black-holed PostgreSQL or Redis) returns at the deadline instead of after
// the driver's or the kernel's timeouts; problem.go maps what it returns to
// 503 naming the dependency. It cannot stop code that ignores its context:
// every I/O call below api must take ctx (STYLE.md rule 22).
//
// skip exempts routes whose requests are meant to last (the live-update
// streams); nil exempts none.
func requestDeadline(d time.Duration, skip func(echo.Context) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if d <= 0 || (skip != nil && skip(c)) {
				return next(c)
			}
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			ctx, waitedForPostgres := store.WatchPoolWaits(ctx)
			c.SetRequest(c.Request().WithContext(ctx))
			err := next(c)
			if err != nil && !c.Response().Committed && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// Whatever the handler made of its cancelled context, the
				// answer is "too slow", not "bad request" or "not found".
				if dependencyOf(err) == "" && waitedForPostgres() {
					// It ran out of time waiting for a pool connection.
					return unavailable(depPostgres, err)
				}
				return deadlineExceeded(err)
			}
			return err
		}
	}
}
