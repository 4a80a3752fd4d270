package payments

import (
	"context"
	"errors"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

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

// Deps are the dependencies of the payments workers.
type Deps struct {
	Log      zerolog.Logger
	Pool     *pgxpool.Pool
	STK      STK
	Tasks    *asynq.Client // re-drives lost push tasks
	Queues   tasks.Queues
	Exchange string // events exchange (payment.* events, callback notices)
	// QueuePrefix names the AMQP queue of the callback consumer.
	QueuePrefix   string
	DeliveryLimit int
	Config        config.Payments
	// Concurrency of the callback consumer (default 8).
	Concurrency int
	Now         func() time.Time
}

func (d *Deps) setDefaults() {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Concurrency == 0 {
		d.Concurrency = 8
	}
}

func (d Deps) validate() error {
	var errs []error
	if d.Pool == nil {
		errs = append(errs, errors.New("payments workers: pool is nil"))
	}
	if d.STK == nil {
		errs = append(errs, errors.New("payments workers: STK client is nil"))
	}
	if d.Exchange == "" {
		errs = append(errs, errors.New("payments workers: exchange is empty"))
	}
	return errors.Join(errs...)
}
