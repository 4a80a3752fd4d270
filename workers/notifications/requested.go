package notifications

import (
	"context"
	"fmt"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
	"fundigo/pkg/notification"
)

// skipStored acks the notification.requested events of notifications
// stored already (notification.IsStored: the API's and campaigns' own,
// written with their row) without decoding them or asking the database,
// and passes the others (other publishers', Django's) to next.
func skipStored(next amqpx.BatchHandlerFunc) amqpx.BatchHandlerFunc {
	return func(ctx context.Context, batch []amqpx.Delivery) []error {
		errs := make([]error, len(batch))
		rest := make([]amqpx.Delivery, 0, len(batch))
		at := make([]int, 0, len(batch)) // rest[j] is batch[at[j]]
		for i, d := range batch {
			if notification.IsStored(d.MessageId, d.Headers) {
				continue
			}
			rest = append(rest, d)
			at = append(at, i)
		}
		if len(rest) == 0 {
			return errs
		}
		for j, err := range next(ctx, rest) {
			errs[at[j]] = err
		}
		return errs
	}
}

// handleRequested consumes notification.requested a batch at a time: the
// pipeline stores the batch's notifications together (once per source key)
// and the sender loop fans them out. Redeliveries, and the events of
// notifications the API stored already, find the stored one. A request the
// domain refuses (*notification.ValidationError) fails alone and is
// dead-lettered by the classifier; anything else is retried.
func (w *worker) handleRequested(ctx context.Context, batch []amqpx.Decoded[notification.Request]) []error {
	rs := make([]notification.Request, len(batch))
	for i, m := range batch {
		rs[i] = m.Msg
	}
	errs := w.pipeline.AcceptMany(ctx, rs)
	for i, err := range errs {
		if err != nil {
			errs[i] = fmt.Errorf("%s %s: %w", events.RoutingKeyNotificationRequested, rs[i].ID, err)
		}
	}
	return errs
}
