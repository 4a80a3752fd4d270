package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/logging"
	"fundigo/pkg/notification"
)

// handleCreateNotification creates the notification (stored with its
// notification.requested event in one transaction) and answers 202; the
// notifications worker fans it out. The same Idempotency-Key from the same
// client maps to the same notification even if the stored response was
// lost, so a retried request never notifies twice.
func handleCreateNotification(pool *pgxpool.Pool) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req notification.Request
		if err := bindStrict(c, &req); err != nil {
			return err
		}
		// id and source_key are the server's: refuse them like any unknown
		// field.
		if req.ID != "" {
			return Validation(FieldError{Field: "id", Message: "unknown field"})
		}
		if req.SourceKey != "" {
			return Validation(FieldError{Field: "source_key", Message: "unknown field"})
		}
		req.ID = uuid.NewString()
		req.SourceKey = "api:" + req.ID
		if key := c.Request().Header.Get("Idempotency-Key"); key != "" {
			req.SourceKey = "api:" + principalName(c) + ":" + key
		}
		n, _, err := notification.Create(c.Request().Context(), pool, req)
		if errors.Is(err, notification.ErrSourceKeyReused) {
			// Same caller and key, but the idempotency record is gone
			// (retention) and the request differs: refused, never silently
			// answered with the old notification.
			return errKeyReused()
		}
		if err != nil {
			return err
		}
		zerologCtx(c).Info().Str(logging.FieldNotificationID, n.ID).Int("users", len(n.UserIDs)).Msg("notification accepted")
		c.Response().Header().Set(echo.HeaderLocation, "/v1/notifications/"+n.ID)
		return c.JSON(http.StatusAccepted, map[string]string{"id": n.ID, "status": n.Status})
	}
}

// notificationView is GET /v1/notifications/{id}.
type notificationView struct {
	ID        string              `json:"id"`
	Status    string              `json:"status"`
	Template  string              `json:"template,omitempty"`
	Category  string              `json:"category,omitempty"`
	Priority  string              `json:"priority"`
	Users     int                 `json:"users"`
	Counts    notification.Counts `json:"counts"`
	CreatedAt time.Time           `json:"created_at"`
	DoneAt    *time.Time          `json:"done_at,omitempty"`
}

// handleGetNotification answers a notification's status and delivery counts.
func handleGetNotification(pool *pgxpool.Pool) echo.HandlerFunc {
	return func(c echo.Context) error {
		n, counts, err := notification.Lookup(c.Request().Context(), pool, c.Param("id"))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, notificationView{
			ID: n.ID, Status: n.Status, Template: n.Template, Category: n.Category, Priority: n.Priority,
			Users: len(n.UserIDs), Counts: counts, CreatedAt: n.CreatedAt, DoneAt: n.DoneAt,
		})
	}
}

// userNotificationView is one notification in a user's list: what it said
// and where it stands (delivery counts are per notification, on
// GET /v1/notifications/{id}).
type userNotificationView struct {
	ID        string         `json:"id"`
	Status    string         `json:"status"`
	Template  string         `json:"template,omitempty"`
	Params    map[string]any `json:"params,omitempty"`
	Title     string         `json:"title,omitempty"`
	Body      string         `json:"body,omitempty"`
	Category  string         `json:"category,omitempty"`
	Priority  string         `json:"priority"`
	CreatedAt time.Time      `json:"created_at"`
	DoneAt    *time.Time     `json:"done_at,omitempty"`
}

// handleListUserNotifications is GET /v1/users/{user_id}/notifications:
// the notifications addressed to a user, newest first; users may list only
// their own.
func handleListUserNotifications(pool *pgxpool.Pool) echo.HandlerFunc {
	return func(c echo.Context) error {
		userID, err := pathUser(c)
		if err != nil {
			return err
		}
		q, err := listQuery(c)
		if err != nil {
			return err
		}
		p, err := notification.NewStore(pool).ListForUser(c.Request().Context(), userID, q)
		if err != nil {
			return listError(err)
		}
		return answerPage(c, p, func(n notification.Notification) userNotificationView {
			return userNotificationView{ID: n.ID, Status: n.Status, Template: n.Template, Params: n.Params, Title: n.Title,
				Body: n.Body, Category: n.Category, Priority: n.Priority, CreatedAt: n.CreatedAt, DoneAt: n.DoneAt}
		})
	}
}
