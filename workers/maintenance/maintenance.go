// Package maintenance handles maintenance:cleanup, the daily retention job:
// it deletes published outbox rows, processed inbox rows, idempotency keys
// and settled push deliveries older than their configured retention. A rule
// whose table does not exist (its domain not deployed yet) is skipped and
// said so in the task's result; a rule with retention 0 keeps rows forever.
package maintenance

import (
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"fundigo/pkg/config"
	"fundigo/pkg/tasks"
)

// Deps are the cleanup handler's dependencies.
type Deps struct {
	Log       zerolog.Logger
	Pool      *pgxpool.Pool
	Retention config.Retention
}

// Register routes maintenance:cleanup to its handler.
func Register(mux *asynq.ServeMux, deps Deps) {
	mux.Handle(tasks.TypeMaintenanceCleanup, tasks.JSON(handleCleanup(deps)))
}

// TaskTypes are the task types Register handles, for listings that must
// not build the workers (`fundigo scheduler list`).
func TaskTypes() []string { return []string{tasks.TypeMaintenanceCleanup} }
