package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/expo"
	"fundigo/pkg/store"
)

// registerDeviceRequest is the body of POST /v1/devices.
type registerDeviceRequest struct {
	UserID   string `json:"user_id"`
	Token    string `json:"token"`
	Platform string `json:"platform"`
	Locale   string `json:"locale"`
}

const (
	maxUserIDLen = 128
	maxTokenLen  = 512
)

func (r *registerDeviceRequest) validate() error {
	var f Fields
	r.UserID, r.Token = strings.TrimSpace(r.UserID), strings.TrimSpace(r.Token)
	if r.UserID == "" || len(r.UserID) > maxUserIDLen {
		f.Add("user_id", "required, at most 128 characters")
	}
	switch r.Platform {
	case store.PlatformExpo:
		if !expo.IsPushToken(r.Token) {
			f.Add("token", "must be an Expo push token: ExponentPushToken[…] or ExpoPushToken[…]")
		}
	case store.PlatformFCM:
		if r.Token == "" || len(r.Token) > maxTokenLen || strings.ContainsAny(r.Token, " \t\r\n") {
			f.Add("token", "required, at most 512 characters, no spaces")
		}
	default:
		f.Add("platform", "must be expo or fcm")
	}
	if r.Locale == "" {
		r.Locale = "en"
	}
	if r.Locale != "en" && r.Locale != "sw" {
		f.Add("locale", "must be en or sw")
	}
	return f.Err()
}

// deviceView is a device as the API shows it.
type deviceView struct {
	Token    string `json:"token"`
	UserID   string `json:"user_id"`
	Platform string `json:"platform"`
	Locale   string `json:"locale"`
	Active   bool   `json:"active"`
}

// handleRegisterDevice is an idempotent upsert: registering a known token
// again updates it (locale, platform), reactivates it, and moves it to
// user_id if another user had it (a phone changed hands). Users may register
// devices for themselves only; services for anyone.
func handleRegisterDevice(pool *pgxpool.Pool) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req registerDeviceRequest
		if err := bindStrict(c, &req); err != nil {
			return err
		}
		if err := req.validate(); err != nil {
			return err
		}
		if err := requireSelf(c, req.UserID); err != nil {
			return err
		}
		d, created, err := store.NewDevices(pool).Upsert(c.Request().Context(), store.Device{
			Token: req.Token, UserID: req.UserID, Platform: req.Platform, Locale: req.Locale,
		})
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
		if err != nil || token == "" {
			return NewProblem(http.StatusNotFound, "no such device")
		}
		owner := ""
		if p, ok := principalOf(c); ok && p.Kind == "user" {
			owner = p.UserID
		}
		err = store.NewDevices(pool).Delete(c.Request().Context(), token, owner)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// requireSelf lets services act for any user and users only for themselves.
func requireSelf(c echo.Context, userID string) error {
	p, ok := principalOf(c)
	if ok && p.Kind == "user" && p.UserID != userID {
		return NewProblem(http.StatusForbidden, "users may only manage their own devices and preferences")
	}
	return nil
}
