package notifications

import (
	"context"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
	"fundigo/pkg/notification"
)

// handlePayments consumes payment.paid and payment.failed (each routing
// key says which) a batch at a time and lets the pipeline notify each
// payment's customer (and technician), all of the batch's notifications
// stored together; redeliveries notify nobody twice. An event the domain
// refuses (no customer, another routing key) fails alone and is
// dead-lettered by the classifier.
func (w *worker) handlePayments(ctx context.Context, batch []amqpx.Decoded[events.Payment]) []error {
	evs := make([]notification.PaymentEvent, len(batch))
	for i, m := range batch {
		evs[i] = notification.PaymentEvent{RoutingKey: m.Info.RoutingKey, Payment: m.Msg}
	}
	return w.pipeline.NotifyPayments(ctx, evs)
}

// handlePayout consumes payout.succeeded and lets the pipeline tell the
// technician their money was sent; redeliveries notify nobody twice.
func (w *worker) handlePayout(ctx context.Context, p events.Payout) error {
	info, _ := amqpx.InfoFrom(ctx)
	return w.pipeline.NotifyPayout(ctx, info.RoutingKey, p)
}
