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
	// Concurrency and DeliveryLimit shape the consumer (defaults 8 and
	// amqpx's).
	Concurrency   int
	DeliveryLimit int
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
		d.Concurrency = 8
	}
	f := &feeder{log: d.Log, streams: d.Streams}
	return []amqpx.ConsumerSpec{{
		Queue:         Queue(d.QueuePrefix),
		Bindings:      RoutingKeys,
		Concurrency:   d.Concurrency,
		DeliveryLimit: d.DeliveryLimit,
		Name:          "fundigo/workers/livefeed.handleEvent",
		Handler: amqpx.Dispatch(
			amqpx.Route{Key: "payment.*", Handler: f.handle(paymentOwners)},
			amqpx.Route{Key: events.RoutingKeyNotificationRequested, Handler: f.handle(notificationOwners)},
			amqpx.Route{Key: events.RoutingKeyReviewCreated, Handler: f.handle(reviewOwners)},
			amqpx.Route{Key: events.RoutingKeyRatingUpdated, Handler: f.handle(ratingOwners)},
		),
	}}, nil
}
