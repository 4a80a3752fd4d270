package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/events"
	"fundigo/pkg/logging"
	"fundigo/pkg/outbox"
	"fundigo/pkg/store"
)

// createNotificationRequest is the body of POST /v1/notifications: a
// template with params, or a literal title/body (and data).
type createNotificationRequest struct {
	UserIDs    []string       `json:"user_ids"`
	Template   string         `json:"template"`
	Params     map[string]any `json:"params"`
	Title      string         `json:"title"`
	Body       string         `json:"body"`
	Data       map[string]any `json:"data"`
	Category   string         `json:"category"`
	Priority   string         `json:"priority"`
	CollapseID string         `json:"collapse_id"`
}

func (r *createNotificationRequest) validate() error {
	var f Fields
	if len(r.UserIDs) < 1 || len(r.UserIDs) > events.MaxNotificationUsers {
		f.Add("user_ids", fmt.Sprintf("between 1 and %d user ids", events.MaxNotificationUsers))
	}
	seen := make(map[string]bool, len(r.UserIDs))
	ids := r.UserIDs[:0]
	for _, id := range r.UserIDs {
		id = strings.TrimSpace(id)
		if id == "" || len(id) > maxUserIDLen {
			f.Add("user_ids", "each user id must have 1 to 128 characters")
			break
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	r.UserIDs = ids
	switch {
	case r.Template != "":
		if r.Title != "" || r.Body != "" {
			f.Add("template", "give a template or a title/body, not both")
		}
		required, ok := events.NotificationTemplates[r.Template]
		if !ok {
			f.Add("template", "unknown template")
		}
		for _, p := range required {
			if _, ok := r.Params[p]; !ok {
				f.Add("params."+p, "required by template "+r.Template)
			}
		}
	case r.Title == "" && r.Body == "":
		f.Add("title", "a template or a title/body is required")
	}
	if r.Template == "" && len(r.Params) > 0 {
		f.Add("params", "only used with a template")
	}
	if utf8.RuneCountInString(r.Title) > events.MaxNotificationTitle {
		f.Add("title", "at most 200 characters")
	}
	if utf8.RuneCountInString(r.Body) > events.MaxNotificationBody {
		f.Add("body", "at most 2000 characters")
	}
	if b, _ := json.Marshal(r.Data); len(b) > 3072 {
		f.Add("data", "at most 3 KiB of JSON (the whole push payload is limited to 4 KiB)")
	}
	if len(r.Category) > events.MaxCategoryLen {
		f.Add("category", "at most 64 characters")
	}
	switch r.Priority {
	case "":
		r.Priority = events.NotificationPriorityNormal
	case events.NotificationPriorityNormal, events.NotificationPriorityHigh:
	default:
		f.Add("priority", "must be normal or high")
	}
	if len(r.CollapseID) > events.MaxCollapseIDLen {
		f.Add("collapse_id", "at most 64 characters")
	}
	return f.Err()
}

// handleCreateNotification stores the notification and its
// notification.requested event in one transaction (outbox) and answers 202;
// the notifications worker fans it out. The same Idempotency-Key from the
// same client maps to the same notification even if the stored response was
// lost, so a retried request never notifies twice.
func handleCreateNotification(pool *pgxpool.Pool, exchange string) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req createNotificationRequest
		if err := bindStrict(c, &req); err != nil {
			return err
		}
		if err := req.validate(); err != nil {
			return err
		}
		id := uuid.NewString()
		source := "api:" + id
		if key := c.Request().Header.Get("Idempotency-Key"); key != "" {
			source = "api:" + principalName(c) + ":" + key
		}
		ev := events.NotificationRequested{
			ID: id, SourceKey: source, UserIDs: req.UserIDs, Template: req.Template, Params: req.Params,
			Title: req.Title, Body: req.Body, Data: req.Data, Category: req.Category,
			Priority: req.Priority, CollapseID: req.CollapseID,
		}
		ctx := c.Request().Context()
		want := store.Notification{
			ID: id, SourceKey: source, UserIDs: ev.UserIDs, Template: ev.Template, Params: ev.Params,
			Title: ev.Title, Body: ev.Body, Data: ev.Data, Category: ev.Category,
			Priority: ev.Priority, CollapseID: ev.CollapseID,
		}
		var n store.Notification
		err := store.WithTx(ctx, pool, func(tx pgx.Tx) error {
			var created bool
			var err error
			n, created, err = store.NewNotifications(tx).Create(ctx, want)
			if err != nil {
				return err
			}
			if !created {
				// Same caller and key. The idempotency record may be gone
				// (retention): a different request under it is refused,
				// never silently answered with the old notification.
				if !sameNotificationRequest(n, want) {
					return errKeyReused()
				}
				return nil
			}
			payload, err := json.Marshal(ev)
			if err != nil {
				return fmt.Errorf("encode %s: %w", events.RoutingKeyNotificationRequested, err)
			}
			return outbox.Write(ctx, tx, outbox.Message{
				ID:       events.RoutingKeyNotificationRequested + ":" + id,
				Exchange: exchange, RoutingKey: events.RoutingKeyNotificationRequested,
				Type: events.RoutingKeyNotificationRequested, Payload: payload,
			})
		})
		if err != nil {
			return err
		}
		zerologCtx(c).Info().Str(logging.FieldNotificationID, n.ID).Int("users", len(n.UserIDs)).Msg("notification accepted")
		return c.JSON(http.StatusAccepted, map[string]string{"id": n.ID, "status": n.Status})
	}
}

// notificationView is GET /v1/notifications/{id}.
type notificationView struct {
	ID        string                   `json:"id"`
	Status    string                   `json:"status"`
	Template  string                   `json:"template,omitempty"`
	Category  string                   `json:"category,omitempty"`
	Priority  string                   `json:"priority"`
	Users     int                      `json:"users"`
	Counts    store.NotificationCounts `json:"counts"`
	CreatedAt time.Time                `json:"created_at"`
	DoneAt    *time.Time               `json:"done_at,omitempty"`
}

// handleGetNotification answers a notification's status and delivery counts.
func handleGetNotification(pool *pgxpool.Pool) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		notifications := store.NewNotifications(pool)
		n, err := notifications.Get(ctx, c.Param("id"))
		if err != nil {
			return err
		}
		counts, err := notifications.Counts(ctx, n.ID)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, notificationView{
			ID: n.ID, Status: n.Status, Template: n.Template, Category: n.Category, Priority: n.Priority,
			Users: len(n.UserIDs), Counts: counts, CreatedAt: n.CreatedAt, DoneAt: n.DoneAt,
		})
	}
}
