package notifications

import (
	"context"
	"errors"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"fundigo/pkg/expo"
	"fundigo/pkg/fcm"
	"fundigo/pkg/tasks"
)

// ExpoSender is the Expo push API as this package uses it; *expo.Client
// satisfies it. Send returns one ticket per message in order (see
// expo.Client.Send for partial failures); GetReceipts omits ids that have no
// receipt yet.
type ExpoSender interface {
	Send(ctx context.Context, msgs []expo.Message) ([]expo.Ticket, error)
	GetReceipts(ctx context.Context, ids []string) (map[string]expo.Receipt, error)
}

// FCMSender sends one message to one native token; *fcm.Client satisfies it.
// Errors match fcm.ErrUnregistered and fcm.IsTemporary.
type FCMSender interface {
	Send(ctx context.Context, m fcm.Message) (string, error)
}

// Deps are the notification workers' dependencies.
type Deps struct {
	Log    zerolog.Logger
	Pool   *pgxpool.Pool
	Tasks  *asynq.Client
	Queues tasks.Queues
	Expo   ExpoSender
	// FCM may be nil: deliveries to fcm devices then fail with
	// "fcm_not_configured".
	FCM       FCMSender
	Templates *Templates
	// Exchange and QueuePrefix place the event consumers.
	Exchange    string
	QueuePrefix string
	// ReceiptDelay is how old a ticket must be before its receipt is fetched
	// (default 15m); StaleClaim how long a claimed delivery may stay
	// unsettled before it is failed as outcome unknown (default 10m).
	ReceiptDelay time.Duration
	StaleClaim   time.Duration
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
}

func (d *Deps) setDefaults() {
	if d.NowFunc == nil {
		d.NowFunc = time.Now
	}
	if d.ReceiptDelay == 0 {
		d.ReceiptDelay = 15 * time.Minute
	}
	if d.StaleClaim == 0 {
		d.StaleClaim = 10 * time.Minute
	}
	if d.Queues == (tasks.Queues{}) {
		d.Queues = tasks.NewQueues("")
	}
}

func (d Deps) validate() error {
	var errs []error
	if d.Pool == nil || d.Tasks == nil || d.Expo == nil || d.Templates == nil {
		errs = append(errs, errors.New("notifications: Pool, Tasks, Expo and Templates are required"))
	}
	if d.Exchange == "" {
		errs = append(errs, errors.New("notifications: Exchange is required"))
	}
	return errors.Join(errs...)
}

// worker carries the Deps to the handlers.
type worker struct{ Deps }

func newWorker(d Deps) (*worker, error) {
	d.setDefaults()
	if err := d.validate(); err != nil {
		return nil, err
	}
	return &worker{d}, nil
}

// logger is the task- or delivery-scoped logger in ctx, else the root one.
func (w *worker) logger(ctx context.Context) *zerolog.Logger {
	if l := zerolog.Ctx(ctx); l.GetLevel() != zerolog.Disabled {
		return l
	}
	return &w.Log
}
