package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"fundigo/pkg/health"
)

// handleHealthz answers 200 while the process serves HTTP (liveness).
func handleHealthz() echo.HandlerFunc {
	return func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	}
}

// handleReadyz serves the role's readiness (Deps.Readiness: only what the
// role cannot work without fails it, the rest is reported as degraded); with
// none given, every check in Deps.Checks is required.
func handleReadyz(d Deps) echo.HandlerFunc {
	h := d.Readiness
	if h == nil {
		checks := make([]health.Check, 0, len(d.Checks))
		for name, c := range d.Checks {
			checks = append(checks, health.Check{Name: name, Ping: c.Ping, Required: true})
		}
		h = health.NewReadiness(checks...)
	}
	return echo.WrapHandler(h)
}
