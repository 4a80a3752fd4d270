package notifications

import (
	"context"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
)

// handlePayment consumes payment.paid and payment.failed (the routing key
// says which) and lets the pipeline notify the payment's customer (and
// technician); redeliveries notify nobody twice. An event the domain refuses
// (no customer, another routing key) is dead-lettered by the classifier.
func (w *worker) handlePayment(ctx context.Context, p events.Payment) error {
	info, _ := amqpx.InfoFrom(ctx)
	return w.pipeline.NotifyPayment(ctx, info.RoutingKey, p)
}

// handlePayout consumes payout.succeeded and lets the pipeline tell the
// technician their money was sent; redeliveries notify nobody twice.
func (w *worker) handlePayout(ctx context.Context, p events.Payout) error {
	info, _ := amqpx.InfoFrom(ctx)
	return w.pipeline.NotifyPayout(ctx, info.RoutingKey, p)
}
