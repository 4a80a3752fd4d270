package notification

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

// ExpoSender is the Expo push API as the pipeline uses it; *expo.Client
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

// PipelineConfig are the pipeline's dependencies and settings.
type PipelineConfig struct {
	Log    zerolog.Logger
	Pool   *pgxpool.Pool
	Tasks  *asynq.Client
	Queues tasks.Queues
	Expo   ExpoSender
	// FCM may be nil: deliveries to fcm devices then fail with
	// "fcm_not_configured".
	FCM FCMSender
	// Templates default to LoadTemplates().
	Templates *Templates
	// ReceiptDelay is how old a ticket must be before its receipt is fetched
	// (default 15m); StaleClaim how long a claimed delivery may stay
	// unsettled before it is failed as outcome unknown (default 10m).
	ReceiptDelay time.Duration
	StaleClaim   time.Duration
	// SendLoop: a sender loop (RunSender) runs in the worker processes.
	// Accept then only stores the notification: the loop fans queued
	// notifications out in batches (FanOutDue) and claims their deliveries
	// across notifications (SendDue), within its idle poll; no push:send
	// task is queued. Without it Accept fans out at once and queues one
	// push:send task per 100 deliveries.
	SendLoop bool
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
}

func (c *PipelineConfig) setDefaults() error {
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
	if c.ReceiptDelay == 0 {
		c.ReceiptDelay = 15 * time.Minute
	}
	if c.StaleClaim == 0 {
		c.StaleClaim = 10 * time.Minute
	}
	if c.Queues == (tasks.Queues{}) {
		c.Queues = tasks.NewQueues("")
	}
	if c.Templates == nil {
		t, err := LoadTemplates()
		if err != nil {
			return err
		}
		c.Templates = t
	}
	return nil
}

func (c PipelineConfig) validate() error {
	if c.Pool == nil || c.Tasks == nil || c.Expo == nil {
		return errors.New("notification: Pool, Tasks and Expo are required")
	}
	return nil
}

// Pipeline moves notifications to devices: it fans them out to delivery
// rows, sends them (push:send), and follows up on receipts (push:receipts).
// Safe for concurrent use; every step is idempotent.
type Pipeline struct {
	cfg   PipelineConfig
	store Store
}

// NewPipeline checks cfg and returns the pipeline.
func NewPipeline(cfg PipelineConfig) (*Pipeline, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Pipeline{cfg: cfg, store: NewStore(cfg.Pool)}, nil
}

// logger is the task- or delivery-scoped logger in ctx, else the root one.
func (p *Pipeline) logger(ctx context.Context) *zerolog.Logger {
	if l := zerolog.Ctx(ctx); l.GetLevel() != zerolog.Disabled {
		return l
	}
	return &p.cfg.Log
}

// AcceptMany is Accept for many requests at once, with one result per
// request, in order. With SendLoop (where Accept only stores) the batch is
// stored with one statement (INSERT … SELECT FROM unnest … ON CONFLICT
// (source_key) DO NOTHING): a request whose source key is stored already,
// by an earlier delivery, by Create, or earlier in the same batch, is
// skipped as Accept skips it. A request the domain refuses fails alone
// (*ValidationError), and so does one whose row the database refuses (the
// batch is then stored request by request). Without SendLoop each request
// goes through Accept.
func (p *Pipeline) AcceptMany(ctx context.Context, rs []Request) []error {
	errs := make([]error, len(rs))
	if !p.cfg.SendLoop {
		for i, r := range rs {
			errs[i] = p.Accept(ctx, r)
		}
		return errs
	}
	reqs := make([]Request, 0, len(rs))
	from := make([]int, 0, len(rs))
	for i, r := range rs {
		if r.SourceKey == "" {
			r.SourceKey = "notification:" + r.ID
		}
		if err := Validate(&r); err != nil {
			errs[i] = err
			continue
		}
		reqs = append(reqs, r)
		from = append(from, i)
	}
	p.storeMany(ctx, reqs, from, errs, "notification requests", func(i int) error { return p.Accept(ctx, rs[i]) })
	return errs
}

// Accept validates r, stores it unless its source key is known (empty
// means "notification:<ID>"), and fans it out. It is how a
// notification.requested event, or a notification made from another
// domain's event, enters the pipeline; a redelivery finds the stored
// notification and only makes sure its sends are queued. A
// *ValidationError means r can never be accepted.
func (p *Pipeline) Accept(ctx context.Context, r Request) error {
	if r.SourceKey == "" {
		r.SourceKey = "notification:" + r.ID
	}
	if err := Validate(&r); err != nil {
		return err
	}
	n, _, err := p.store.CreateNotification(ctx, Notification{Request: r})
	if err != nil {
		return err
	}
	if p.cfg.SendLoop {
		// The sender's fan-out loop takes queued notifications in batches
		// (FanOutDue); a fanned-out one needs nothing more.
		return nil
	}
	return p.fanOut(ctx, n)
}
