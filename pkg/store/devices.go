package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// notifDB is what the notification queries need; *pgxpool.Pool and pgx.Tx
// both satisfy it, so the same queries run alone or inside a caller's tx.
type notifDB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Device platforms.
const (
	PlatformExpo = "expo"
	PlatformFCM  = "fcm"
)

// Device is a push token registered by a user's device.
type Device struct {
	Token     string    `json:"token"`
	UserID    string    `json:"user_id"`
	Platform  string    `json:"platform"`
	Locale    string    `json:"locale"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Devices holds the queries of the devices table.
type Devices struct{ db notifDB }

// NewDevices returns the devices queries over db (a pool or a tx).
func NewDevices(db notifDB) *Devices { return &Devices{db: db} }

const deviceColumns = `token, user_id, platform, locale, active, created_at, updated_at`

// Upsert registers d.Token for d.UserID. It is idempotent: registering a
// known token updates it in place (moving it to d.UserID if another user had
// it, and reactivating it), so created is true only the first time.
func (s *Devices) Upsert(ctx context.Context, d Device) (out Device, created bool, err error) {
	row := s.db.QueryRow(ctx, `
		INSERT INTO devices (token, user_id, platform, locale)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (token) DO UPDATE SET
			user_id = EXCLUDED.user_id, platform = EXCLUDED.platform, locale = EXCLUDED.locale,
			active = true, deactivated_reason = NULL, updated_at = now()
		RETURNING `+deviceColumns+`, (xmax = 0)`,
		d.Token, d.UserID, d.Platform, d.Locale)
	err = row.Scan(&out.Token, &out.UserID, &out.Platform, &out.Locale, &out.Active,
		&out.CreatedAt, &out.UpdatedAt, &created)
	if err != nil {
		return Device{}, false, fmt.Errorf("upsert device for user %s: %w", d.UserID, err)
	}
	return out, created, nil
}

// Get returns the device with token, or ErrNotFound.
func (s *Devices) Get(ctx context.Context, token string) (Device, error) {
	var d Device
	err := s.db.QueryRow(ctx, `SELECT `+deviceColumns+` FROM devices WHERE token = $1`, token).
		Scan(&d.Token, &d.UserID, &d.Platform, &d.Locale, &d.Active, &d.CreatedAt, &d.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Device{}, ErrNotFound
	}
	if err != nil {
		return Device{}, fmt.Errorf("get device: %w", err)
	}
	return d, nil
}

// Delete removes token. userID, when not empty, restricts the delete to that
// user's device. ErrNotFound when nothing matched.
func (s *Devices) Delete(ctx context.Context, token, userID string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM devices WHERE token = $1 AND ($2 = '' OR user_id = $2)`, token, userID)
	if err != nil {
		return fmt.Errorf("delete device: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// Deactivate marks tokens as no longer deliverable (DeviceNotRegistered,
// UNREGISTERED) and returns how many were active. Idempotent. A token
// registered again afterwards is reactivated by Upsert.
func (s *Devices) Deactivate(ctx context.Context, tokens []string, reason string) (int64, error) {
	if len(tokens) == 0 {
		return 0, nil
	}
	tag, err := s.db.Exec(ctx, `
		UPDATE devices SET active = false, deactivated_reason = $2, updated_at = now()
		WHERE token = ANY($1) AND active`, tokens, reason)
	if err != nil {
		return 0, fmt.Errorf("deactivate %d devices: %w", len(tokens), err)
	}
	return tag.RowsAffected(), nil
}

// ActiveForUsers returns the active devices of userIDs, ordered by user and
// token.
func (s *Devices) ActiveForUsers(ctx context.Context, userIDs []string) ([]Device, error) {
	rows, err := s.db.Query(ctx, `
		SELECT `+deviceColumns+` FROM devices
		WHERE user_id = ANY($1) AND active ORDER BY user_id, token`, userIDs)
	if err != nil {
		return nil, fmt.Errorf("list devices of %d users: %w", len(userIDs), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Device, error) {
		var d Device
		err := r.Scan(&d.Token, &d.UserID, &d.Platform, &d.Locale, &d.Active, &d.CreatedAt, &d.UpdatedAt)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("list devices of %d users: %w", len(userIDs), err)
	}
	return out, nil
}
