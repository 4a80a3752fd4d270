package payment

import (
	"context"
	"errors"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"fundigo/pkg/config"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/tasks"
)

// STK is what the workflow needs from Daraja. *mpesa.Client implements it
// (against Daraja or the simulator). Both methods are safe for concurrent use
// and classify errors as documented on mpesa.Client.STKPush / STKQuery:
// ErrNotSent and retryable *APIError may be retried, ErrAmbiguous must not.
type STK interface {
	STKPush(ctx context.Context, r mpesa.PushRequest) (mpesa.PushResult, error)
	STKQuery(ctx context.Context, checkoutRequestID string) (mpesa.QueryResult, error)
}

// Deps are the dependencies of the payment commands. Every entry point (REST
// handler, task handler, applier, Celery task, CLI) passes the same Deps.
type Deps struct {
	Log  zerolog.Logger
	Pool *pgxpool.Pool
	// STK talks to Daraja; only the push, confirmation and reconciliation
	// commands need it.
	STK STK
	// Tasks enqueues STK push tasks (create, re-drive) on Queues.Critical.
	Tasks  *asynq.Client
	Queues tasks.Queues
	// Inspector lets reconciliation find a push task that Asynq archived
	// (retries exhausted) and replace it; nil skips that check.
	Inspector TaskInspector
	Config    config.Payments
	// Caps bound the STK pushes per phone at create (zero: no caps).
	Caps Caps
	// QueryLimiter, if set, paces Confirm's STK Push Queries; one per
	// process, shared by every confirmation (NewQueryLimiter).
	QueryLimiter *rate.Limiter
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (d Deps) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

// Validate checks what every command needs; withSTK also requires the
// Daraja client (workers).
func (d Deps) Validate(withSTK bool) error {
	var errs []error
	if d.Pool == nil {
		errs = append(errs, errors.New("payment: pool is nil"))
	}
	if withSTK && d.STK == nil {
		errs = append(errs, errors.New("payment: STK client is nil"))
	}
	return errors.Join(errs...)
}
