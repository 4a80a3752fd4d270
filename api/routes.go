package api

import (
	"github.com/labstack/echo/v4"
)

// registerRoutes is the one list of every route. Each domain owns one block.
func registerRoutes(e *echo.Echo, d Deps, m middlewares) {
	e.GET("/healthz", handleHealthz())
	e.GET("/readyz", handleReadyz(d.Checks))
	if d.Registry != nil {
		e.GET("/metrics", handleMetrics(d.Registry))
	}

	v1 := e.Group("/v1")
	v1.GET("/tasks/:id", handleGetTask(d.Pool, d.Inspector, d.Queues), m.userOrService, m.limitUser)

	// payments

	// notifications

	// ratings

	// scheduler

	_ = v1
}
