package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// QuietHours is a daily window, in local time of TZ (an IANA zone), during
// which normal-priority notifications wait. Start and End are "HH:MM"; a
// window whose Start is after its End spans midnight.
type QuietHours struct {
	Start string `json:"start"`
	End   string `json:"end"`
	TZ    string `json:"tz"`
}

// Preferences are a user's notification settings. The zero value (nothing
// muted, no quiet hours) applies to users who never saved any.
type Preferences struct {
	UserID          string      `json:"user_id"`
	MutedCategories []string    `json:"muted_categories"`
	QuietHours      *QuietHours `json:"quiet_hours"`
	UpdatedAt       *time.Time  `json:"updated_at,omitempty"`
}

// NotificationPreferences holds the queries of notification_preferences.
type NotificationPreferences struct{ db notifDB }

// NewNotificationPreferences returns the preferences queries over db.
func NewNotificationPreferences(db notifDB) *NotificationPreferences {
	return &NotificationPreferences{db: db}
}

// Put replaces the user's preferences (last write wins).
func (s *NotificationPreferences) Put(ctx context.Context, p Preferences) (Preferences, error) {
	var start, end, tz any
	if q := p.QuietHours; q != nil {
		start, end, tz = q.Start, q.End, q.TZ
	}
	muted := p.MutedCategories
	if muted == nil {
		muted = []string{}
	}
	row := s.db.QueryRow(ctx, `
		INSERT INTO notification_preferences (user_id, muted_categories, quiet_start, quiet_end, quiet_tz)
		VALUES ($1, $2, $3::time, $4::time, $5)
		ON CONFLICT (user_id) DO UPDATE SET
			muted_categories = EXCLUDED.muted_categories, quiet_start = EXCLUDED.quiet_start,
			quiet_end = EXCLUDED.quiet_end, quiet_tz = EXCLUDED.quiet_tz, updated_at = now()
		RETURNING `+prefColumns, p.UserID, muted, start, end, tz)
	out, err := scanPreferences(row)
	if err != nil {
		return Preferences{}, fmt.Errorf("put preferences of user %s: %w", p.UserID, err)
	}
	return out, nil
}

// Get returns the user's preferences, or the zero preferences for a user
// who never saved any.
func (s *NotificationPreferences) Get(ctx context.Context, userID string) (Preferences, error) {
	out, err := scanPreferences(s.db.QueryRow(ctx,
		`SELECT `+prefColumns+` FROM notification_preferences WHERE user_id = $1`, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Preferences{UserID: userID, MutedCategories: []string{}}, nil
	}
	if err != nil {
		return Preferences{}, fmt.Errorf("get preferences of user %s: %w", userID, err)
	}
	return out, nil
}

// ForUsers returns the saved preferences of userIDs by user id; users
// without saved preferences are absent.
func (s *NotificationPreferences) ForUsers(ctx context.Context, userIDs []string) (map[string]Preferences, error) {
	rows, err := s.db.Query(ctx,
		`SELECT `+prefColumns+` FROM notification_preferences WHERE user_id = ANY($1)`, userIDs)
	if err != nil {
		return nil, fmt.Errorf("list preferences of %d users: %w", len(userIDs), err)
	}
	defer rows.Close()
	out := make(map[string]Preferences)
	for rows.Next() {
		p, err := scanPreferences(rows)
		if err != nil {
			return nil, fmt.Errorf("list preferences: %w", err)
		}
		out[p.UserID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list preferences: %w", err)
	}
	return out, nil
}

const prefColumns = `user_id, muted_categories, quiet_start, quiet_end, quiet_tz, updated_at`

func scanPreferences(row pgx.Row) (Preferences, error) {
	var (
		p          Preferences
		start, end pgtype.Time
		tz         *string
		updated    time.Time
	)
	if err := row.Scan(&p.UserID, &p.MutedCategories, &start, &end, &tz, &updated); err != nil {
		return Preferences{}, err
	}
	p.UpdatedAt = &updated
	if p.MutedCategories == nil {
		p.MutedCategories = []string{}
	}
	if start.Valid && end.Valid && tz != nil {
		p.QuietHours = &QuietHours{Start: formatTimeOfDay(start), End: formatTimeOfDay(end), TZ: *tz}
	}
	return p, nil
}

// formatTimeOfDay formats a time of day as HH:MM.
func formatTimeOfDay(t pgtype.Time) string {
	m := t.Microseconds / 60_000_000
	return fmt.Sprintf("%02d:%02d", m/60, m%60)
}
