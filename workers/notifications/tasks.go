package notifications

import (
	"context"
	"errors"

	"github.com/hibiken/asynq"

	"fundigo/pkg/outcome"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// handleSend is push:send: one batch of one notification's deliveries. A
// notification that does not exist will not appear on a retry: permanent.
func (w *worker) handleSend(ctx context.Context, p tasks.PushSendPayload) error {
	err := w.pipeline.Send(ctx, p.NotificationID)
	if errors.Is(err, store.ErrNotFound) {
		return outcome.Permanent(err)
	}
	return err
}

// handleReceipts is push:receipts, run every few minutes.
func (w *worker) handleReceipts(ctx context.Context, _ *asynq.Task) error {
	return w.pipeline.CheckReceipts(ctx)
}
