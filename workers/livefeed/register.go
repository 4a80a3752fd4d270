package livefeed

import (
	"errors"

	"github.com/rs/zerolog"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
	"fundigo/pkg/live"
)

// Deps are what the live consumer needs.
type Deps struct {
	Log     zerolog.Logger
	Streams *live.Streams
	// QueuePrefix namespaces the queue (bound to workers.Config.Exchange).
	QueuePrefix string
	// Concurrency, DeliveryLimit and MaxBatch shape the consumer (defaults
	// 2 and amqpx's): few handlers, so events wait for a busy one and go
	// to Redis together.
	Concurrency   int
	DeliveryLimit int
	MaxBatch      int
}

// Queue is the consumer's queue.
func Queue(prefix string) string { return prefix + "live.fanout" }

// RoutingKeys are the events forwarded to live clients.
var RoutingKeys = []string{
	events.RoutingKeyPaymentAwaitingCallback, events.RoutingKeyPaymentPaid,
	events.RoutingKeyPaymentFailed, events.RoutingKeyPaymentNeedsReview,
	events.RoutingKeyNotificationRequested,
	events.RoutingKeyReviewCreated, events.RoutingKeyRatingUpdated,
}

// Consumers returns the live consumer, or reports invalid deps.
func Consumers(d Deps) ([]amqpx.ConsumerSpec, error) {
	if d.Streams == nil {
		return nil, errors.New("livefeed: streams are nil")
	}
	if d.Concurrency == 0 {
		d.Concurrency = 2
	}
	f := &feeder{log: d.Log, streams: d.Streams, routes: []route{
		{"payment.*", paymentOwners},
		{events.RoutingKeyNotificationRequested, notificationOwners},
		{events.RoutingKeyReviewCreated, reviewOwners},
		{events.RoutingKeyRatingUpdated, ratingOwners},
	}}
	return []amqpx.ConsumerSpec{{
		Queue:         Queue(d.QueuePrefix),
		Bindings:      RoutingKeys,
		Concurrency:   d.Concurrency,
		DeliveryLimit: d.DeliveryLimit,
		Name:          "fundigo/workers/livefeed.handleBatch",
		// Events that wait are appended together, one Redis round trip
		// per batch.
		BatchHandler: f.handleBatch,
		MaxBatch:     d.MaxBatch,
	}}, nil
}
