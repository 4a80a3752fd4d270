package payout

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

// Daraja is what payouts need from Daraja; *mpesa.Client implements it
// (against Daraja or the simulator). Both are safe for concurrent use and
// classify errors as documented on mpesa.Client.B2C: only ErrNotSent (and a
// retryable *APIError) proves a B2C request was not received.
type Daraja interface {
	B2C(ctx context.Context, in mpesa.Initiator, r mpesa.B2CRequest) (mpesa.B2CAck, error)
	TransactionStatus(ctx context.Context, in mpesa.Initiator, r mpesa.StatusRequest) (mpesa.StatusAck, error)
}

// URLs are where Daraja sends B2C and Transaction Status answers.
type URLs struct {
	B2CResult, B2CTimeout, StatusResult, StatusTimeout string
}

// URLsFor builds the webhook URLs of every payout answer from the public
// base URL and the payments webhook token.
func URLsFor(pc config.Payments, publicURL string) URLs {
	return URLs{
		B2CResult: pc.DarajaURL(publicURL, "b2c/result"), B2CTimeout: pc.DarajaURL(publicURL, "b2c/timeout"),
		StatusResult: pc.DarajaURL(publicURL, "status/result"), StatusTimeout: pc.DarajaURL(publicURL, "status/timeout"),
	}
}

// Deps are the dependencies of the payout commands; every entry point
// passes the same Deps.
type Deps struct {
	Log  zerolog.Logger
	Pool *pgxpool.Pool
	// Daraja and Initiator are needed by Submit and Reconcile only.
	Daraja    Daraja
	Initiator mpesa.Initiator
	URLs      URLs
	// Tasks enqueues submit tasks on Queues.Critical (nil: reconciliation
	// drives new payouts).
	Tasks  *asynq.Client
	Queues tasks.Queues
	Config config.Payouts
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (d Deps) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

// Validate checks what every command needs; withDaraja also the client.
func (d Deps) Validate(withDaraja bool) error {
	var errs []error
	if d.Pool == nil {
		errs = append(errs, errors.New("payout: pool is nil"))
	}
	if withDaraja && d.Daraja == nil {
		errs = append(errs, errors.New("payout: Daraja client is nil"))
	}
	return errors.Join(errs...)
}
