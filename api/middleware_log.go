package api

import (
	"time"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"fundigo/pkg/logging"
	"fundigo/pkg/tracing"
)

// accessLog writes one structured line per request. It logs the route
// template (c.Path()), never the raw URL, so secret path tokens, query strings
// and bodies stay out of the logs. The request logger travels in the context.
func accessLog(log zerolog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			rid := c.Response().Header().Get(echo.HeaderXRequestID)
			req := c.Request()
			reqLog := tracing.LogContext(req.Context(), log.With().Str(logging.FieldRequestID, rid), false).Logger()
			c.SetRequest(req.WithContext(reqLog.WithContext(req.Context())))

			err := next(c)
			if err != nil {
				c.Error(err) // write the problem now so the status below is final
			}
			status := c.Response().Status
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			ev := reqLog.Info()
			switch {
			case status >= 500:
				ev = reqLog.Warn()
			case route == "/healthz" || route == "/readyz":
				ev = reqLog.Debug() // probes: one line per pod every few seconds
			}
			ev.Str("method", req.Method).Str("route", route).Int("status", status).
				Int64("bytes_out", c.Response().Size).
				Int64(logging.FieldDurationMS, time.Since(start).Milliseconds()).
				Str("principal", principalName(c)).Msg("http request")
			return nil
		}
	}
}
