package api

import (
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/notification"
)

// preferencesRequest is the body of PUT /v1/users/{user_id}/notification-preferences.
type preferencesRequest struct {
	MutedCategories []string                 `json:"muted_categories"`
	QuietHours      *notification.QuietHours `json:"quiet_hours"`
}

// handlePutPreferences replaces a user's notification preferences.
func handlePutPreferences(pool *pgxpool.Pool) echo.HandlerFunc {
	return func(c echo.Context) error {
		userID, err := pathUser(c)
		if err != nil {
			return err
		}
		var req preferencesRequest
		if err := bindStrict(c, &req); err != nil {
			return err
		}
		p, err := notification.PutPreferences(c.Request().Context(), pool, notification.Preferences{
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
		userID, err := pathUser(c)
		if err != nil {
			return err
		}
		p, err := notification.GetPreferences(c.Request().Context(), pool, userID)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, p)
	}
}
