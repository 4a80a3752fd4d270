package celerycompat

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"fundigo/pkg/celery"
	"fundigo/pkg/notification"
)

// celeryNamespace derives notification ids from Celery task ids (UUID v5),
// so every run of one task names the same notification.
var celeryNamespace = uuid.MustParse("6f0c3c2e-53a4-4d61-9a47-2d2b8f0f6c1e")

// sendNotification is send_notification_async(user_id, message): it creates
// the notification as POST /v1/notifications does (notification.Create), so
// the notifications worker fans it out to the user's devices. Idempotent:
// the source key "celery:<task id>" makes a redelivered task the same
// notification. Returns {"notification_id": …}.
func sendNotification(d HandlerDeps) HandlerFunc {
	return func(ctx context.Context, m *celery.Message) (any, error) {
		if err := signature(m, "user_id", "message"); err != nil {
			return nil, err
		}
		userID, err := idArg(m, 0, "user_id")
		if err != nil {
			return nil, err
		}
		var message string
		if err := arg(m, 1, "message", &message); err != nil {
			return nil, err
		}
		n, _, err := notification.Create(ctx, d.Pool, notification.Request{
			ID:        uuid.NewSHA1(celeryNamespace, []byte(m.ID)).String(),
			SourceKey: "celery:" + m.ID,
			UserIDs:   []string{userID},
			Body:      message,
		})
		var ve *notification.ValidationError
		if errors.As(err, &ve) {
			return nil, celery.ValueError(celeryValueMessage(ve))
		}
		if errors.Is(err, notification.ErrSourceKeyReused) {
			return nil, celery.ValueError("task id " + m.ID + " already made a different notification")
		}
		if err != nil {
			return nil, fmt.Errorf("create notification for celery task %s: %w", m.ID, err)
		}
		return map[string]any{"notification_id": n.ID}, nil
	}
}

// celeryValueMessage names the task's arguments rather than the request's
// fields.
func celeryValueMessage(ve *notification.ValidationError) string {
	f := ve.Fields[0]
	switch f.Field {
	case "title", "body":
		return fmt.Sprintf("message must be 1..%d bytes", notification.MaxBody)
	case "user_ids":
		return "user_id: " + f.Message
	}
	return f.Field + ": " + f.Message
}
