package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Notification statuses: queued → sending → done.
const (
	NotificationQueued  = "queued"
	NotificationSending = "sending"
	NotificationDone    = "done"
)

// Notification is a request to notify users, by template (rendered per
// device locale) or with literal title/body/data.
type Notification struct {
	ID          string         `json:"id"`
	SourceKey   string         `json:"-"`
	UserIDs     []string       `json:"user_ids"`
	Template    string         `json:"template,omitempty"`
	Params      map[string]any `json:"params,omitempty"`
	Title       string         `json:"title,omitempty"`
	Body        string         `json:"body,omitempty"`
	Data        map[string]any `json:"data,omitempty"`
	Category    string         `json:"category,omitempty"`
	Priority    string         `json:"priority"`
	CollapseID  string         `json:"collapse_id,omitempty"`
	Status      string         `json:"status"`
	CreatedAt   time.Time      `json:"created_at"`
	FannedOutAt *time.Time     `json:"fanned_out_at,omitempty"`
	DoneAt      *time.Time     `json:"done_at,omitempty"`
}

// NotificationCounts add up: Devices = Queued + Deferred + AwaitingReceipt +
// Delivered + Failed + InvalidTokens + Muted. Sent counts the deliveries a
// provider accepted (an ok ticket or an FCM 200), whatever their receipt
// said later.
type NotificationCounts struct {
	Devices         int `json:"devices"`
	Sent            int `json:"sent"`
	Failed          int `json:"failed"`
	InvalidTokens   int `json:"invalid_tokens"`
	AwaitingReceipt int `json:"awaiting_receipt"`
	Delivered       int `json:"delivered"`
	Deferred        int `json:"deferred"`
	Queued          int `json:"queued"`
	Muted           int `json:"muted"`
}

// Notifications holds the queries of the notifications table.
type Notifications struct{ db notifDB }

// NewNotifications returns the notifications queries over db (pool or tx).
func NewNotifications(db notifDB) *Notifications { return &Notifications{db: db} }

const notificationColumns = `id::text, source_key, user_ids, template, params, title, body, data,
	category, priority, collapse_id, status, created_at, fanned_out_at, done_at`

// Create stores n (ID and SourceKey set by the caller) unless a notification
// with the same SourceKey exists; then that one is returned with created
// false. This is what makes a replayed request or event one notification.
func (s *Notifications) Create(ctx context.Context, n Notification) (Notification, bool, error) {
	params, data, err := encodeMaps(n.Params, n.Data)
	if err != nil {
		return Notification{}, false, err
	}
	out, err := scanNotification(s.db.QueryRow(ctx, `
		INSERT INTO notifications (id, source_key, user_ids, template, params, title, body, data,
			category, priority, collapse_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (source_key) DO NOTHING
		RETURNING `+notificationColumns,
		n.ID, n.SourceKey, n.UserIDs, n.Template, params, n.Title, n.Body, data,
		n.Category, n.Priority, n.CollapseID))
	if err == nil {
		return out, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Notification{}, false, fmt.Errorf("create notification %s: %w", n.ID, err)
	}
	out, err = scanNotification(s.db.QueryRow(ctx,
		`SELECT `+notificationColumns+` FROM notifications WHERE source_key = $1`, n.SourceKey))
	if err != nil {
		return Notification{}, false, fmt.Errorf("load notification by source key: %w", err)
	}
	return out, false, nil
}

// Get returns the notification with id, or ErrNotFound.
func (s *Notifications) Get(ctx context.Context, id string) (Notification, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Notification{}, ErrNotFound
	}
	out, err := scanNotification(s.db.QueryRow(ctx,
		`SELECT `+notificationColumns+` FROM notifications WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Notification{}, ErrNotFound
	}
	if err != nil {
		return Notification{}, fmt.Errorf("get notification %s: %w", id, err)
	}
	return out, nil
}

// MarkFannedOut moves a queued notification to sending once its deliveries
// exist. Idempotent: ErrStaleTransition when it was not queued.
func (s *Notifications) MarkFannedOut(ctx context.Context, id string, now time.Time) error {
	tag, err := s.db.Exec(ctx, `
		UPDATE notifications SET status = 'sending', fanned_out_at = $2
		WHERE id = $1 AND status = 'queued'`, id, now)
	if err != nil {
		return fmt.Errorf("mark notification %s fanned out: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrStaleTransition
	}
	return nil
}

// CompleteIfSettled moves a sending notification to done when none of its
// deliveries is pending, deferred or being sent. Reports whether it did.
func (s *Notifications) CompleteIfSettled(ctx context.Context, id string, now time.Time) (bool, error) {
	tag, err := s.db.Exec(ctx, `
		UPDATE notifications n SET status = 'done', done_at = $2
		WHERE n.id = $1 AND n.status = 'sending' AND NOT EXISTS (
			SELECT 1 FROM notification_deliveries d
			WHERE d.notification_id = n.id AND d.status IN ('pending', 'deferred', 'sending'))`, id, now)
	if err != nil {
		return false, fmt.Errorf("complete notification %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Counts tallies the deliveries of notification id.
func (s *Notifications) Counts(ctx context.Context, id string) (NotificationCounts, error) {
	var c NotificationCounts
	if _, err := uuid.Parse(id); err != nil {
		return c, ErrNotFound
	}
	err := s.db.QueryRow(ctx, `
		SELECT count(*),
			count(*) FILTER (WHERE accepted),
			count(*) FILTER (WHERE status = 'failed'),
			count(*) FILTER (WHERE status = 'invalid'),
			count(*) FILTER (WHERE status = 'sent'),
			count(*) FILTER (WHERE status = 'delivered'),
			count(*) FILTER (WHERE status = 'deferred'),
			count(*) FILTER (WHERE status IN ('pending', 'sending')),
			count(*) FILTER (WHERE status = 'muted')
		FROM notification_deliveries WHERE notification_id = $1`, id).
		Scan(&c.Devices, &c.Sent, &c.Failed, &c.InvalidTokens, &c.AwaitingReceipt,
			&c.Delivered, &c.Deferred, &c.Queued, &c.Muted)
	if err != nil {
		return NotificationCounts{}, fmt.Errorf("count deliveries of notification %s: %w", id, err)
	}
	return c, nil
}

func encodeMaps(params, data map[string]any) ([]byte, []byte, error) {
	if params == nil {
		params = map[string]any{}
	}
	if data == nil {
		data = map[string]any{}
	}
	p, err := json.Marshal(params)
	if err != nil {
		return nil, nil, fmt.Errorf("encode params: %w", err)
	}
	d, err := json.Marshal(data)
	if err != nil {
		return nil, nil, fmt.Errorf("encode data: %w", err)
	}
	return p, d, nil
}

func scanNotification(row pgx.Row) (Notification, error) {
	var (
		n            Notification
		params, data []byte
	)
	err := row.Scan(&n.ID, &n.SourceKey, &n.UserIDs, &n.Template, &params, &n.Title, &n.Body, &data,
		&n.Category, &n.Priority, &n.CollapseID, &n.Status, &n.CreatedAt, &n.FannedOutAt, &n.DoneAt)
	if err != nil {
		return Notification{}, err
	}
	if err := json.Unmarshal(params, &n.Params); err != nil {
		return Notification{}, fmt.Errorf("decode params: %w", err)
	}
	if err := json.Unmarshal(data, &n.Data); err != nil {
		return Notification{}, fmt.Errorf("decode data: %w", err)
	}
	return n, nil
}
