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
	v1.POST("/payments", handleCreatePayment(d.Pool, d.Tasks, d.Queues.Critical, d.Config.Payments.MaxAmount, d.Now),
		m.service, m.limitPayment, m.idempotent)
	v1.GET("/payments/:id", handleGetPayment(d.Pool), m.service)
	v1.POST("/webhooks/mpesa/stk/:token", handleSTKCallback(newSTKWebhook(d)))

	// notifications

	// ratings

	// scheduler
	v1.GET("/admin/schedules", handleListSchedules(d.Pool), m.service)
	v1.POST("/admin/schedules/:name/run", handleRunSchedule(d.Pool, d.Tasks, d.Now), m.service, m.idempotent)

	_ = v1
}
