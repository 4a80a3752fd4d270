package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Delivery statuses; see migrations/00020_notifications.sql for the
// lifecycle. Only pending/deferred rows may be claimed and only claimed
// (sending) rows settled, so a row is handed to a provider at most once.
const (
	DeliveryPending   = "pending"
	DeliveryDeferred  = "deferred"
	DeliverySending   = "sending"
	DeliverySent      = "sent"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
	DeliveryInvalid   = "invalid"
	DeliveryMuted     = "muted"
)

// Delivery is one notification to one device.
type Delivery struct {
	ID             int64
	NotificationID string
	UserID         string
	DeviceToken    string
	Platform       string
	Locale         string
	Status         string
	NotBefore      *time.Time
	Attempts       int
}

// Outcome settles one claimed delivery.
type Outcome struct {
	ID       int64
	Status   string // sent, delivered, failed or invalid
	Accepted bool   // the provider took the message
	TicketID string // Expo receipt id of an ok ticket
	Error    string // error code for failed/invalid
}

// ReceiptCheck is a delivery whose Expo receipt is due.
type ReceiptCheck struct {
	ID          int64
	TicketID    string
	DeviceToken string
	SentAt      time.Time
}

// NotificationDeliveries holds the queries of notification_deliveries.
type NotificationDeliveries struct{ db notifDB }

// NewNotificationDeliveries returns the deliveries queries over db.
func NewNotificationDeliveries(db notifDB) *NotificationDeliveries {
	return &NotificationDeliveries{db: db}
}

// Insert adds deliveries written at now; a (notification, device) pair that
// already has a row is left as it is (that row's history wins). Returns how
// many were new.
func (s *NotificationDeliveries) Insert(ctx context.Context, ds []Delivery, now time.Time) (int64, error) {
	if len(ds) == 0 {
		return 0, nil
	}
	var (
		nid, uid, tok, plat, loc, st = make([]string, len(ds)), make([]string, len(ds)),
			make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds))
		nb = make([]*time.Time, len(ds))
	)
	for i, d := range ds {
		nid[i], uid[i], tok[i], plat[i], loc[i], st[i], nb[i] =
			d.NotificationID, d.UserID, d.DeviceToken, d.Platform, d.Locale, d.Status, d.NotBefore
	}
	tag, err := s.db.Exec(ctx, `
		INSERT INTO notification_deliveries (notification_id, user_id, device_token, platform, locale, status, not_before, created_at)
		SELECT u.*, $8::timestamptz FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) AS u
		ON CONFLICT (notification_id, device_token) DO NOTHING`,
		nid, uid, tok, plat, loc, st, nb, now)
	if err != nil {
		return 0, fmt.Errorf("insert %d deliveries: %w", len(ds), err)
	}
	return tag.RowsAffected(), nil
}

const deliveryColumns = `id, notification_id::text, user_id, device_token, platform, locale, status, not_before, attempts`

// Claim moves up to limit deliveries of the notification that are pending,
// or deferred with not_before <= now, to sending, and returns them. Rows
// claimed concurrently by another worker are skipped (SKIP LOCKED), so two
// claims never return the same row.
func (s *NotificationDeliveries) Claim(ctx context.Context, notificationID string, now time.Time, limit int) ([]Delivery, error) {
	rows, err := s.db.Query(ctx, `
		UPDATE notification_deliveries SET status = 'sending', claimed_at = $2, attempts = attempts + 1
		WHERE id IN (
			SELECT id FROM notification_deliveries
			WHERE notification_id = $1
			  AND (status = 'pending' OR (status = 'deferred' AND not_before <= $2))
			ORDER BY id LIMIT $3
			FOR UPDATE SKIP LOCKED)
		  AND status IN ('pending', 'deferred')
		RETURNING `+deliveryColumns, notificationID, now, limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries of notification %s: %w", notificationID, err)
	}
	out, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries of notification %s: %w", notificationID, err)
	}
	return out, nil
}

func scanDelivery(r pgx.CollectableRow) (Delivery, error) {
	var d Delivery
	err := r.Scan(&d.ID, &d.NotificationID, &d.UserID, &d.DeviceToken, &d.Platform, &d.Locale,
		&d.Status, &d.NotBefore, &d.Attempts)
	return d, err
}

// Settle records the outcome of claimed deliveries. Rows no longer in
// sending (settled by someone else, or failed as stale) are left alone.
func (s *NotificationDeliveries) Settle(ctx context.Context, outs []Outcome, now time.Time) error {
	return s.settle(ctx, outs, now, DeliverySending)
}

// SettleReceipts records receipt outcomes of sent deliveries.
func (s *NotificationDeliveries) SettleReceipts(ctx context.Context, outs []Outcome, now time.Time) error {
	return s.settle(ctx, outs, now, DeliverySent)
}

func (s *NotificationDeliveries) settle(ctx context.Context, outs []Outcome, now time.Time, from string) error {
	if len(outs) == 0 {
		return nil
	}
	ids := make([]int64, len(outs))
	st, tick, errs := make([]string, len(outs)), make([]string, len(outs)), make([]string, len(outs))
	acc := make([]bool, len(outs))
	for i, o := range outs {
		ids[i], st[i], tick[i], errs[i], acc[i] = o.ID, o.Status, o.TicketID, o.Error, o.Accepted
	}
	// From sending, sent_at is the settle time; receipts keep it.
	_, err := s.db.Exec(ctx, `
		UPDATE notification_deliveries d SET
			status = u.status,
			accepted = d.accepted OR u.accepted,
			ticket_id = COALESCE(NULLIF(u.ticket, ''), d.ticket_id),
			error = NULLIF(u.err, ''),
			sent_at = CASE WHEN $6 = 'sending' THEN $5 ELSE d.sent_at END,
			receipt_checked_at = CASE WHEN $6 = 'sent' THEN $5 ELSE d.receipt_checked_at END
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $7::bool[]) AS u(id, status, ticket, err, accepted)
		WHERE d.id = u.id AND d.status = $6`,
		ids, st, tick, errs, now, from, acc)
	if err != nil {
		return fmt.Errorf("settle %d deliveries: %w", len(outs), err)
	}
	return nil
}

// Release returns claimed deliveries to pending after a failure that
// certainly did not reach the provider, so a retry sends them.
func (s *NotificationDeliveries) Release(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.db.Exec(ctx, `
		UPDATE notification_deliveries SET status = 'pending'
		WHERE id = ANY($1) AND status = 'sending'`, ids)
	if err != nil {
		return fmt.Errorf("release %d deliveries: %w", len(ids), err)
	}
	return nil
}

// DueForReceipts returns up to limit sent deliveries whose ticket is older
// than sentBefore and whose receipt was not looked for since checkedBefore,
// oldest first.
func (s *NotificationDeliveries) DueForReceipts(ctx context.Context, sentBefore, checkedBefore time.Time, limit int) ([]ReceiptCheck, error) {
	rows, err := s.db.Query(ctx, `
		SELECT id, ticket_id, device_token, sent_at FROM notification_deliveries
		WHERE status = 'sent' AND ticket_id IS NOT NULL AND sent_at <= $1
		  AND (receipt_checked_at IS NULL OR receipt_checked_at < $2)
		ORDER BY sent_at, id LIMIT $3`, sentBefore, checkedBefore, limit)
	if err != nil {
		return nil, fmt.Errorf("list due receipts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReceiptCheck, error) {
		var c ReceiptCheck
		err := r.Scan(&c.ID, &c.TicketID, &c.DeviceToken, &c.SentAt)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list due receipts: %w", err)
	}
	return out, nil
}

// MarkReceiptChecked notes that sent deliveries had no receipt yet.
func (s *NotificationDeliveries) MarkReceiptChecked(ctx context.Context, ids []int64, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.db.Exec(ctx, `
		UPDATE notification_deliveries SET receipt_checked_at = $2
		WHERE id = ANY($1) AND status = 'sent'`, ids, now)
	if err != nil {
		return fmt.Errorf("mark %d receipts checked: %w", len(ids), err)
	}
	return nil
}

// FailStale settles deliveries claimed before claimedBefore and never
// settled (their worker died mid-send) as failed with reason: the provider
// may have them, so they are never sent again. Returns the notifications
// touched.
func (s *NotificationDeliveries) FailStale(ctx context.Context, claimedBefore time.Time, reason string) ([]string, error) {
	return s.notificationIDs(ctx, `
		UPDATE notification_deliveries SET status = 'failed', error = $2
		WHERE status = 'sending' AND claimed_at < $1
		RETURNING notification_id::text`, claimedBefore, reason)
}

// Stalled lists notifications with deliveries that should be on their way
// but may have no task left to send them: deferred ones due at now, and
// pending ones written (or released) before pendingBefore.
func (s *NotificationDeliveries) Stalled(ctx context.Context, now, pendingBefore time.Time, limit int) ([]string, error) {
	return s.notificationIDs(ctx, `
		SELECT DISTINCT notification_id::text FROM notification_deliveries
		WHERE (status = 'deferred' AND not_before <= $1)
		   OR (status = 'pending' AND coalesce(claimed_at, created_at) < $2)
		LIMIT $3`, now, pendingBefore, limit)
}

// PendingCount counts the claimable deliveries of a notification (pending,
// or deferred and due at now).
func (s *NotificationDeliveries) PendingCount(ctx context.Context, notificationID string, now time.Time) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `
		SELECT count(*) FROM notification_deliveries
		WHERE notification_id = $1 AND (status = 'pending' OR (status = 'deferred' AND not_before <= $2))`,
		notificationID, now).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count pending deliveries of notification %s: %w", notificationID, err)
	}
	return n, nil
}

// DeferredTimes lists the distinct not_before instants of a notification's
// deferred deliveries, with how many deliveries wait for each.
func (s *NotificationDeliveries) DeferredTimes(ctx context.Context, notificationID string) (map[time.Time]int, error) {
	rows, err := s.db.Query(ctx, `
		SELECT not_before, count(*) FROM notification_deliveries
		WHERE notification_id = $1 AND status = 'deferred' GROUP BY not_before`, notificationID)
	if err != nil {
		return nil, fmt.Errorf("list deferred times of notification %s: %w", notificationID, err)
	}
	defer rows.Close()
	out := make(map[time.Time]int)
	for rows.Next() {
		var (
			t time.Time
			n int
		)
		if err := rows.Scan(&t, &n); err != nil {
			return nil, fmt.Errorf("list deferred times: %w", err)
		}
		out[t] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list deferred times: %w", err)
	}
	return out, nil
}

func (s *NotificationDeliveries) notificationIDs(ctx context.Context, sql string, args ...any) ([]string, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list notification ids: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list notification ids: %w", err)
	}
	seen := make(map[string]bool, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}
