package api

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/events"
	"fundigo/pkg/store"
)

// preferencesRequest is the body of PUT /v1/users/{user_id}/notification-preferences.
type preferencesRequest struct {
	MutedCategories []string          `json:"muted_categories"`
	QuietHours      *store.QuietHours `json:"quiet_hours"`
}

const maxMutedCategories = 50

func (r *preferencesRequest) validate() error {
	var f Fields
	if len(r.MutedCategories) > maxMutedCategories {
		f.Add("muted_categories", "at most 50 categories")
	}
	clean := make([]string, 0, len(r.MutedCategories))
	for _, c := range r.MutedCategories {
		c = strings.TrimSpace(c)
		if c == "" || len(c) > events.MaxCategoryLen {
			f.Add("muted_categories", "each category must have 1 to 64 characters")
			break
		}
		if !slices.Contains(clean, c) {
			clean = append(clean, c)
		}
	}
	slices.Sort(clean)
	r.MutedCategories = clean
	if q := r.QuietHours; q != nil {
		if _, err := time.Parse("15:04", q.Start); err != nil || len(q.Start) != 5 {
			f.Add("quiet_hours.start", "must be HH:MM (24-hour)")
		}
		if _, err := time.Parse("15:04", q.End); err != nil || len(q.End) != 5 {
			f.Add("quiet_hours.end", "must be HH:MM (24-hour)")
		}
		if q.TZ == "" || q.TZ == "Local" {
			f.Add("quiet_hours.tz", "required, an IANA time zone such as Africa/Nairobi")
		} else if _, err := time.LoadLocation(q.TZ); err != nil {
			f.Add("quiet_hours.tz", "unknown time zone")
		}
	}
	return f.Err()
}

// handlePutPreferences replaces a user's notification preferences.
func handlePutPreferences(pool *pgxpool.Pool) echo.HandlerFunc {
	return func(c echo.Context) error {
		userID := c.Param("user_id")
		if userID == "" || len(userID) > maxUserIDLen {
			return NewProblem(http.StatusNotFound, "no such user")
		}
		if err := requireSelf(c, userID); err != nil {
			return err
		}
		var req preferencesRequest
		if err := bindStrict(c, &req); err != nil {
			return err
		}
		if err := req.validate(); err != nil {
			return err
		}
		p, err := store.NewNotificationPreferences(pool).Put(c.Request().Context(), store.Preferences{
			UserID: userID, MutedCategories: req.MutedCategories, QuietHours: req.QuietHours,
		})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, p)
	}
}

// handleGetPreferences answers a user's preferences (defaults when none
// were saved).
func handleGetPreferences(pool *pgxpool.Pool) echo.HandlerFunc {
	return func(c echo.Context) error {
		userID := c.Param("user_id")
		if err := requireSelf(c, userID); err != nil {
			return err
		}
		p, err := store.NewNotificationPreferences(pool).Get(c.Request().Context(), userID)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, p)
	}
}
