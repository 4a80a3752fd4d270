package notification

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"fundigo/pkg/cursor"
)

// ListDevices answers one page of a user's devices (active or not), newest
// registration first (created_at, then token, descending).
func (s Store) ListDevices(ctx context.Context, userID string, q cursor.Query) (cursor.Page[Device], error) {
	cond, order, args := q.TimeKeyset("created_at", "token", 3)
	rows, err := s.db.Query(ctx, `SELECT `+deviceColumns+` FROM devices WHERE user_id = $1 AND `+cond+order+` LIMIT $2`,
		append([]any{userID, q.Limit()}, args...)...)
	if err != nil {
		return cursor.Page[Device]{}, fmt.Errorf("list devices of user %s: %w", userID, err)
	}
	ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Device, error) {
		var d Device
		err := r.Scan(&d.Token, &d.UserID, &d.Platform, &d.Locale, &d.Active, &d.CreatedAt, &d.UpdatedAt)
		return d, err
	})
	if err != nil {
		return cursor.Page[Device]{}, fmt.Errorf("list devices of user %s: %w", userID, err)
	}
	return cursor.Cut(q, ds, func(d Device) cursor.Position { return cursor.Position{Time: d.CreatedAt, ID: d.Token} }), nil
}

// ListForUser answers one page of the notifications addressed to a user,
// newest first (created_at, then id, descending).
func (s Store) ListForUser(ctx context.Context, userID string, q cursor.Query) (cursor.Page[Notification], error) {
	cond, order, args := q.TimeKeyset("created_at", "id", 3)
	rows, err := s.db.Query(ctx, `SELECT `+notificationColumns+` FROM notifications
		WHERE user_ids @> ARRAY[$1::text] AND `+cond+order+` LIMIT $2`, append([]any{userID, q.Limit()}, args...)...)
	if err != nil {
		return cursor.Page[Notification]{}, fmt.Errorf("list notifications of user %s: %w", userID, err)
	}
	ns, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) { return scanNotification(r) })
	if err != nil {
		return cursor.Page[Notification]{}, fmt.Errorf("list notifications of user %s: %w", userID, err)
	}
	return cursor.Cut(q, ns, func(n Notification) cursor.Position { return cursor.Position{Time: n.CreatedAt, ID: n.ID} }), nil
}
