package api

import (
	"github.com/labstack/echo/v4"
)

// registerRoutes is the one list of every route. Each domain owns one block.
// It reports dependencies a route cannot be built with.
func registerRoutes(e *echo.Echo, d Deps, m middlewares) error {
	e.GET("/healthz", handleHealthz())
	e.GET("/readyz", handleReadyz(d))
	// /metrics is served on the admin listener only (pkg/admin).

	v1 := e.Group("/v1")
	v1.GET("/openapi.json", handleOpenAPI()) // public: the contract (openapi.yaml)
	v1.POST("/tasks", handleEnqueueTask(d.Pool, d.Tasks, d.Queues, d.Now), m.service, m.idempotent)
	v1.GET("/tasks/:id", handleGetTask(d.Pool, d.Inspector, d.Queues), m.userOrService)

	// payments
	v1.POST("/payments", handleCreatePayment(paymentDeps(d)),
		m.service, m.limitPayment, m.idempotent)
	v1.GET("/payments", handleListPayments(d.Pool), m.service)
	v1.GET("/payments/:id", handleGetPayment(d.Pool), m.service)
	wh, err := newSTKWebhook(d)
	if err != nil {
		return err
	}
	stk := handleSTKCallback(wh)
	v1.POST("/webhooks/mpesa/stk/:token", stk, m.webhook)
	// The same handler under a path Safaricom accepts: Daraja refuses callback
	// URLs containing "mpesa" (any case), so this alias is what we register.
	v1.POST("/webhooks/daraja/stk/:token", stk, m.webhook)

	// payouts (B2C) and the Daraja answers they wait for
	v1.POST("/payouts", handleCreatePayout(payoutDeps(d)), m.service, m.idempotent)
	v1.GET("/payouts/:id", handleGetPayout(d.Pool), m.service)
	dw, err := newDarajaWebhooks(d)
	if err != nil {
		return err
	}
	for _, path := range []string{"b2c/result", "b2c/timeout", "status/result", "status/timeout", "c2b/confirmation"} {
		v1.POST("/webhooks/daraja/"+path+"/:token", handleDarajaWebhook(dw[path]), m.webhook)
	}
	v1.POST("/webhooks/daraja/c2b/validation/:token", handleC2BValidation([]byte(d.Config.Payments.CallbackToken.Reveal()),
		d.Pool, d.Config.Payments.QuarantineCap), m.webhook)
	v1.GET("/payments/unallocated", handleListUnallocated(d.Pool), m.service)
	v1.POST("/payments/unallocated/:trans_id/allocate", handleAllocate(paymentDeps(d)), m.service, m.idempotent)

	// notifications
	v1.POST("/devices", handleRegisterDevice(d.Pool), m.userOrService)
	v1.DELETE("/devices/:token", handleDeleteDevice(d.Pool), m.userOrService)
	v1.GET("/users/:user_id/devices", handleListDevices(d.Pool), m.userOrService)
	v1.GET("/users/:user_id/notifications", handleListUserNotifications(d.Pool), m.userOrService)
	v1.PUT("/users/:user_id/notification-preferences", handlePutPreferences(d.Pool), m.userOrService)
	v1.GET("/users/:user_id/notification-preferences", handleGetPreferences(d.Pool), m.userOrService)
	v1.POST("/notifications", handleCreateNotification(d.Pool), m.service, m.idempotent)
	v1.GET("/notifications/:id", handleGetNotification(d.Pool), m.service)

	// ratings
	rd := newRatingDeps(d)
	v1.POST("/reviews", handleCreateReview(rd), m.userOrService)
	v1.GET("/technicians/top", handleTopTechnicians(rd), m.userOrService)
	v1.GET("/technicians/:id/rating", handleGetTechnicianRating(rd), m.userOrService)
	v1.GET("/technicians/:id/reviews", handleListReviews(rd), m.userOrService)
	v1.POST("/admin/ratings/recompute", handleRecomputeRatings(rd), m.service, m.idempotent)

	// live updates (WebSocket and SSE; their own authentication, see stream_auth.go)
	v1.GET("/stream", handleStream(d.Live, m.stream))
	v1.GET("/events", handleEvents(d.Live, m.stream))

	// scheduler
	v1.GET("/admin/schedules", handleListSchedules(d.Pool), m.service)
	v1.POST("/admin/schedules/:name/run", handleRunSchedule(d.Pool, d.Tasks, d.Now), m.service, m.idempotent)
	return nil
}
