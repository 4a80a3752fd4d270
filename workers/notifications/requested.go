package notifications

import (
	"context"
	"encoding/json"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
	"fundigo/pkg/store"
)

// handleRequested consumes notification.requested: store the notification
// (once per source key) and fan it out. Redeliveries find the stored one and
// only make sure its sends are queued.
func (w *worker) handleRequested(ctx context.Context, d amqp.Delivery) error {
	var ev events.NotificationRequested
	if err := json.Unmarshal(d.Body, &ev); err != nil {
		return amqpx.Permanent(fmt.Errorf("decode %s: %w", events.RoutingKeyNotificationRequested, err))
	}
	if err := ValidateRequest(ev); err != nil {
		return amqpx.Permanent(fmt.Errorf("%s %s: %w", events.RoutingKeyNotificationRequested, ev.ID, err))
	}
	return w.create(ctx, ev)
}

// create stores the notification described by ev unless its source key is
// known, then fans it out.
func (w *worker) create(ctx context.Context, ev events.NotificationRequested) error {
	if ev.SourceKey == "" {
		ev.SourceKey = "notification:" + ev.ID
	}
	if ev.Priority == "" {
		ev.Priority = events.NotificationPriorityNormal
	}
	n, _, err := store.NewNotifications(w.Pool).Create(ctx, store.Notification{
		ID: ev.ID, SourceKey: ev.SourceKey, UserIDs: ev.UserIDs, Template: ev.Template, Params: ev.Params,
		Title: ev.Title, Body: ev.Body, Data: ev.Data, Category: ev.Category, Priority: ev.Priority,
		CollapseID: ev.CollapseID,
	})
	if err != nil {
		return err
	}
	return w.fanOut(ctx, n)
}
