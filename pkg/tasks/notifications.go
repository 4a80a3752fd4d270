package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// Notification task types.
const (
	// TypePushSend sends one batch (at most 100) of a notification's due
	// deliveries. Which rows it sends is decided when it runs, by a
	// conditional claim, so duplicate or extra tasks are harmless: a row is
	// claimed once, and a task that finds nothing to claim is done.
	TypePushSend = "push:send"
	// TypePushReceipts fetches Expo receipts of tickets older than the
	// receipt delay (batches of at most 1000), deactivates DeviceNotRegistered
	// tokens, fails deliveries whose worker died mid-send, and re-enqueues due
	// deferred deliveries. Scheduled every 5 minutes; idempotent.
	TypePushReceipts = "push:receipts"
)

// PushSendTimeout bounds one batch send, rate-limit waits and retries
// included; it stays well below the stale-claim age (10 minutes by default).
const PushSendTimeout = 5 * time.Minute

// PushSendPayload names the notification whose deliveries to send.
type PushSendPayload struct {
	NotificationID string `json:"notification_id"`
}

// NewPushSend builds the slot-th send task of a notification, due at
// processAt (zero: now). Its task id is deterministic (notification, due
// time, slot), so fanning out the same notification again enqueues nothing
// new while the first tasks are still queued.
func NewPushSend(ctx context.Context, queue, notificationID string, slot int, processAt time.Time) (*asynq.Task, error) {
	b, err := json.Marshal(PushSendPayload{NotificationID: notificationID})
	if err != nil {
		return nil, fmt.Errorf("marshal %s payload: %w", TypePushSend, err)
	}
	id := TypePushSend + ":" + notificationID + ":" + strconv.Itoa(slot)
	opts := []asynq.Option{asynq.Queue(queue), asynq.MaxRetry(12), asynq.Timeout(PushSendTimeout)}
	if !processAt.IsZero() {
		id += ":" + strconv.FormatInt(processAt.Unix(), 10)
		opts = append(opts, asynq.ProcessAt(processAt))
	}
	return New(ctx, TypePushSend, b, append(opts, asynq.TaskID(id))...), nil
}

// NewPushReceipts builds a receipts run (for operators; the scheduler
// enqueues its own).
func NewPushReceipts(queue string) *asynq.Task {
	return asynq.NewTask(TypePushReceipts, nil, asynq.Queue(queue), asynq.MaxRetry(0), asynq.Timeout(4*time.Minute))
}

// Validate requires the notification id.
func (p *PushSendPayload) Validate() error {
	if p.NotificationID == "" {
		return errors.New("notification_id is required")
	}
	return nil
}
