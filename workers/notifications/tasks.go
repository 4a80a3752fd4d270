package notifications

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// handleSend is push:send: one batch of one notification's deliveries.
func (w *worker) handleSend(ctx context.Context, t *asynq.Task) error {
	var p tasks.PushSendPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.NotificationID == "" {
		return tasks.Permanent(fmt.Errorf("decode %s payload: %w", tasks.TypePushSend, err))
	}
	err := w.pipeline.Send(ctx, p.NotificationID)
	if errors.Is(err, store.ErrNotFound) {
		return tasks.Permanent(err)
	}
	return err
}

// handleReceipts is push:receipts, run every few minutes.
func (w *worker) handleReceipts(ctx context.Context, _ *asynq.Task) error {
	return w.pipeline.CheckReceipts(ctx)
}
