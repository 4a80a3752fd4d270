package celerycompat

import (
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"

	"fundigo/pkg/inbox"
	"fundigo/pkg/tasks"
)

// Names of the built-in handlers, the values of FUNDIGO_CELERY_TASKS.
const (
	HandlerSendNotification = "notifications.send"
	HandlerPaymentCallback  = "payments.callback"
	HandlerRecomputeRatings = "ratings.recompute_all"
)

// HandlerDeps is what the built-in handlers need to do the same work as the
// native paths, through pkg/ only (workers never import each other).
type HandlerDeps struct {
	Pool *pgxpool.Pool
	// Inbox is the STK webhook's inbox writer (same route, same dedupe).
	Inbox *inbox.Writer
	// QuarantineCap bounds kept unparseable callbacks, as for the webhook.
	QuarantineCap int
	Tasks         *asynq.Client
	Queues        tasks.Queues
}

// Handlers returns the built-in handlers by name, for NewRegistry.
func Handlers(d HandlerDeps) map[string]HandlerFunc {
	return map[string]HandlerFunc{
		HandlerSendNotification: sendNotification(d),
		HandlerPaymentCallback:  processPaymentCallback(d),
		HandlerRecomputeRatings: updateTechnicianRatings(d),
	}
}
