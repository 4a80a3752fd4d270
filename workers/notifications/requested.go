package notifications

import (
	"context"
	"fmt"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
	"fundigo/pkg/notification"
)

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
