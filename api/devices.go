package api

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/notification"
)

// registerDeviceRequest is the body of POST /v1/devices.
type registerDeviceRequest struct {
	UserID   string `json:"user_id"`
	Token    string `json:"token"`
	Platform string `json:"platform"`
	Locale   string `json:"locale"`
}

// deviceView is a device as the API shows it.
type deviceView struct {
	Token    string `json:"token"`
	UserID   string `json:"user_id"`
	Platform string `json:"platform"`
	Locale   string `json:"locale"`
	Active   bool   `json:"active"`
	// CreatedAt is when the token was first registered (lists only).
	CreatedAt *time.Time `json:"created_at,omitempty"`
}

// handleRegisterDevice is an idempotent upsert (notification.RegisterDevice).
// Users may register devices for themselves only, and cannot take a token
// that is active for another user (409); services act for anyone and may
// move a token between users.
func handleRegisterDevice(pool *pgxpool.Pool) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req registerDeviceRequest
		if err := bindStrict(c, &req); err != nil {
			return err
		}
		d := notification.Device{Token: req.Token, UserID: req.UserID, Platform: req.Platform, Locale: req.Locale}
		if err := notification.ValidateDevice(&d); err != nil {
			return err
		}
		if err := requireSelf(c, d.UserID); err != nil {
			return err
		}
		p, ok := principalOf(c)
		mayMove := ok && p.Kind == "service"
		d, created, err := notification.RegisterDevice(c.Request().Context(), pool, d, mayMove)
		if errors.Is(err, notification.ErrDeviceTaken) {
			return NewProblem(http.StatusConflict, "this push token is registered to another user")
		}
		if err != nil {
			return err
		}
		zerologCtx(c).Info().Bool("created", created).Str("platform", d.Platform).Msg("device registered")
		return c.JSON(http.StatusCreated, deviceView{Token: d.Token, UserID: d.UserID, Platform: d.Platform, Locale: d.Locale, Active: d.Active})
	}
}

// handleDeleteDevice unregisters a token. It answers 204 whether or not the
// token was known (a retried DELETE succeeds); a user can only remove their
// own devices.
func handleDeleteDevice(pool *pgxpool.Pool) echo.HandlerFunc {
	return func(c echo.Context) error {
		token, err := url.PathUnescape(c.Param("token"))
		if err != nil || token == "" || len(token) > notification.MaxTokenLen {
			return NewProblem(http.StatusNotFound, "no such device")
		}
		owner := ""
		if p, ok := principalOf(c); ok && p.Kind == "user" {
			owner = p.UserID
		}
		if err := notification.DeleteDevice(c.Request().Context(), pool, token, owner); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// pathUser is the {user_id} of a per-user route: 404 for an id no user can
// have, 403 when a user asks for someone else (services may act for anyone).
func pathUser(c echo.Context) (string, error) {
	userID := c.Param("user_id")
	if notification.ValidateUserID(userID) != nil {
		return "", NewProblem(http.StatusNotFound, "no such user")
	}
	return userID, requireSelf(c, userID)
}

// requireSelf lets services act for any user and users only for themselves.
func requireSelf(c echo.Context, userID string) error {
	p, ok := principalOf(c)
	if ok && p.Kind == "user" && p.UserID != userID {
		return NewProblem(http.StatusForbidden, "users may only manage their own devices and preferences")
	}
	return nil
}

// handleListDevices is GET /v1/users/{user_id}/devices: a user's devices,
// newest registration first; users may list only their own.
func handleListDevices(pool *pgxpool.Pool) echo.HandlerFunc {
	return func(c echo.Context) error {
		userID, err := pathUser(c)
		if err != nil {
			return err
		}
		q, err := listQuery(c)
		if err != nil {
			return err
		}
		p, err := notification.NewStore(pool).ListDevices(c.Request().Context(), userID, q)
		if err != nil {
			return listError(err)
		}
		return answerPage(c, p, func(d notification.Device) deviceView {
			return deviceView{Token: d.Token, UserID: d.UserID, Platform: d.Platform, Locale: d.Locale, Active: d.Active,
				CreatedAt: &d.CreatedAt}
		})
	}
}
