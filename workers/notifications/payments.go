package notifications

import (
	"context"
	"encoding/json"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
)

// handlePayment consumes payment.paid and payment.failed and lets the
// pipeline notify the payment's customer (and technician); redeliveries
// notify nobody twice.
func (w *worker) handlePayment(ctx context.Context, d amqp.Delivery) error {
	var p events.Payment
	if err := json.Unmarshal(d.Body, &p); err != nil {
		return amqpx.Permanent(fmt.Errorf("decode %s: %w", d.RoutingKey, err))
	}
	return eventOutcome(w.pipeline.NotifyPayment(ctx, d.RoutingKey, p))
}
