package notifications

import (
	"context"
	"fmt"

	"fundigo/pkg/events"
	"fundigo/pkg/notification"
)

// handleRequested consumes notification.requested: the pipeline stores the
// notification (once per source key) and fans it out. Redeliveries find the
// stored one and only make sure its sends are queued. A request the domain
// refuses (*notification.ValidationError) is dead-lettered by the
// classifier; anything else is retried.
func (w *worker) handleRequested(ctx context.Context, r notification.Request) error {
	if err := w.pipeline.Accept(ctx, r); err != nil {
		return fmt.Errorf("%s %s: %w", events.RoutingKeyNotificationRequested, r.ID, err)
	}
	return nil
}
