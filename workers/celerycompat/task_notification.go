package celerycompat

import (
	"context"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"fundigo/pkg/celery"
	"fundigo/pkg/events"
	"fundigo/pkg/outbox"
	"fundigo/pkg/store"
)

// celeryNamespace derives notification ids from Celery task ids (UUID v5),
// so every run of one task names the same notification.
var celeryNamespace = uuid.MustParse("6f0c3c2e-53a4-4d61-9a47-2d2b8f0f6c1e")

// sendNotification is send_notification_async(user_id, message): it creates
// the notification as POST /v1/notifications does, the row and its
// notification.requested event in one transaction (outbox), so the
// notifications worker fans it out to the user's devices. Idempotent: the
// source key "celery:<task id>" makes a redelivered task the same
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
		if message == "" || utf8.RuneCountInString(message) > events.MaxNotificationBody {
			return nil, celery.ValueError(fmt.Sprintf("message must be 1..%d characters", events.MaxNotificationBody))
		}
		ev := events.NotificationRequested{
			ID:        uuid.NewSHA1(celeryNamespace, []byte(m.ID)).String(),
			SourceKey: "celery:" + m.ID,
			UserIDs:   []string{userID},
			Body:      message,
			Priority:  events.NotificationPriorityNormal,
		}
		var id string
		err = store.WithTx(ctx, d.Pool, func(tx pgx.Tx) error {
			n, created, err := store.NewNotifications(tx).Create(ctx, store.Notification{
				ID: ev.ID, SourceKey: ev.SourceKey, UserIDs: ev.UserIDs, Body: ev.Body, Priority: ev.Priority,
			})
			if err != nil {
				return err
			}
			id = n.ID
			if !created {
				return nil // stored and announced by an earlier run
			}
			payload, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			return outbox.Write(ctx, tx, outbox.Message{
				ID: events.RoutingKeyNotificationRequested + ":" + n.ID, Exchange: d.Exchange,
				RoutingKey: events.RoutingKeyNotificationRequested, Type: events.RoutingKeyNotificationRequested,
				Payload: payload,
			})
		})
		if err != nil {
			return nil, fmt.Errorf("create notification for celery task %s: %w", m.ID, err)
		}
		return map[string]any{"notification_id": id}, nil
	}
}
