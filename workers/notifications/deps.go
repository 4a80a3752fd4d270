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
	// SendLoop: the process runs Sender (cmd adds it as a runner), so a
	// fan-out queues no push:send tasks; see notification.PipelineConfig.
	SendLoop bool
	// Sender sizes the sender loop (zero: notification's defaults).
	Sender notification.SenderConfig
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
}

// worker carries the pipeline to the handlers.
type worker struct {
	pipeline    *notification.Pipeline
	queuePrefix string
	sender      notification.SenderConfig
}

func newWorker(d Deps) (*worker, error) {
	p, err := notification.NewPipeline(notification.PipelineConfig{
		Log: d.Log, Pool: d.Pool, Tasks: d.Tasks, Queues: d.Queues, Expo: d.Expo, FCM: d.FCM,
		Templates: d.Templates, ReceiptDelay: d.ReceiptDelay, StaleClaim: d.StaleClaim, NowFunc: d.NowFunc,
		SendLoop: d.SendLoop,
	})
	if err != nil {
		return nil, err
	}
	return &worker{pipeline: p, queuePrefix: d.QueuePrefix, sender: d.Sender}, nil
}
