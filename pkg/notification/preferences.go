package notification

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MaxMutedCategories bounds a user's muted categories.
const MaxMutedCategories = 50

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

// ValidateUserID checks a user id taken from a path or a body.
func ValidateUserID(id string) error {
	if id == "" || len(id) > MaxUserIDLen {
		return &ValidationError{Subject: "notification input", Fields: []FieldError{{Field: "user_id", Message: fmt.Sprintf("1 to %d characters", MaxUserIDLen)}}}
	}
	return nil
}

// ValidatePreferences checks preferences and normalizes them in place
// (muted categories trimmed, deduplicated and sorted). It returns a
// *ValidationError.
func ValidatePreferences(p *Preferences) error {
	var f fields
	if len(p.MutedCategories) > MaxMutedCategories {
		f.add("muted_categories", fmt.Sprintf("at most %d categories", MaxMutedCategories))
	}
	clean := make([]string, 0, len(p.MutedCategories))
	for _, c := range p.MutedCategories {
		c = strings.TrimSpace(c)
		if c == "" || len(c) > MaxCategoryLen {
			f.add("muted_categories", fmt.Sprintf("each category must have 1 to %d characters", MaxCategoryLen))
			break
		}
		if !slices.Contains(clean, c) {
			clean = append(clean, c)
		}
	}
	slices.Sort(clean)
	p.MutedCategories = clean
	if q := p.QuietHours; q != nil {
		if _, err := time.Parse("15:04", q.Start); err != nil || len(q.Start) != 5 {
			f.add("quiet_hours.start", "must be HH:MM (24-hour)")
		}
		if _, err := time.Parse("15:04", q.End); err != nil || len(q.End) != 5 {
			f.add("quiet_hours.end", "must be HH:MM (24-hour)")
		}
		if q.TZ == "" || q.TZ == "Local" {
			f.add("quiet_hours.tz", "required, an IANA time zone such as Africa/Nairobi")
		} else if _, err := time.LoadLocation(q.TZ); err != nil {
			f.add("quiet_hours.tz", "unknown time zone")
		}
	}
	return f.err()
}

// PutPreferences validates p and replaces the user's preferences (last
// write wins).
func PutPreferences(ctx context.Context, db DB, p Preferences) (Preferences, error) {
	if err := ValidateUserID(p.UserID); err != nil {
		return Preferences{}, err
	}
	if err := ValidatePreferences(&p); err != nil {
		return Preferences{}, err
	}
	return NewStore(db).PutPreferences(ctx, p)
}

// GetPreferences returns a user's preferences (defaults when none were
// saved).
func GetPreferences(ctx context.Context, db DB, userID string) (Preferences, error) {
	if err := ValidateUserID(userID); err != nil {
		return Preferences{}, err
	}
	return NewStore(db).Preferences(ctx, userID)
}
