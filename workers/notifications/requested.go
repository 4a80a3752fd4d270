package notifications

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
	"fundigo/pkg/notification"
)

// handleRequested consumes notification.requested: the pipeline stores the
// notification (once per source key) and fans it out. Redeliveries find the
// stored one and only make sure its sends are queued.
func (w *worker) handleRequested(ctx context.Context, d amqp.Delivery) error {
	var r notification.Request
	if err := json.Unmarshal(d.Body, &r); err != nil {
		return amqpx.Permanent(fmt.Errorf("decode %s: %w", events.RoutingKeyNotificationRequested, err))
	}
	if err := w.pipeline.Accept(ctx, r); err != nil {
		return eventOutcome(fmt.Errorf("%s %s: %w", events.RoutingKeyNotificationRequested, r.ID, err))
	}
	return nil
}

// eventOutcome marks input that can never be accepted as permanent; other
// errors are retried.
func eventOutcome(err error) error {
	var ve *notification.ValidationError
	if errors.As(err, &ve) {
		return amqpx.Permanent(err)
	}
	return err
}
