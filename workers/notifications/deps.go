package notifications

import (
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"fundigo/pkg/notification"
	"fundigo/pkg/tasks"
)

// Deps are the notification workers' dependencies.
type Deps struct {
	Log    zerolog.Logger
	Pool   *pgxpool.Pool
	Tasks  *asynq.Client
	Queues tasks.Queues
	Expo   notification.ExpoSender
	// FCM may be nil: deliveries to fcm devices then fail with
	// "fcm_not_configured".
	FCM notification.FCMSender
	// Templates default to notification.LoadTemplates().
	Templates *notification.Templates
	// QueuePrefix names the event consumers' queues.
	QueuePrefix string
	// ReceiptDelay and StaleClaim: see notification.PipelineConfig.
	ReceiptDelay time.Duration
	StaleClaim   time.Duration
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
}

// worker carries the pipeline to the handlers.
type worker struct {
	pipeline    *notification.Pipeline
	queuePrefix string
}

func newWorker(d Deps) (*worker, error) {
	p, err := notification.NewPipeline(notification.PipelineConfig{
		Log: d.Log, Pool: d.Pool, Tasks: d.Tasks, Queues: d.Queues, Expo: d.Expo, FCM: d.FCM,
		Templates: d.Templates, ReceiptDelay: d.ReceiptDelay, StaleClaim: d.StaleClaim, NowFunc: d.NowFunc,
	})
	if err != nil {
		return nil, err
	}
	return &worker{pipeline: p, queuePrefix: d.QueuePrefix}, nil
}
