package notification

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fundigo/pkg/expo"
	"fundigo/pkg/store"
)

// Device platforms.
const (
	PlatformExpo = "expo"
	PlatformFCM  = "fcm"
)

// Device locales; the first is the default.
var deviceLocales = []string{"en", "sw"}

// MaxTokenLen bounds push tokens (FCM's; Expo's are shorter).
const MaxTokenLen = 512

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

// ValidateDevice checks a device registration and normalizes it in place
// (trimmed ids, locale defaulted to en). It returns a *ValidationError.
func ValidateDevice(d *Device) error {
	var f fields
	d.UserID, d.Token = strings.TrimSpace(d.UserID), strings.TrimSpace(d.Token)
	if d.UserID == "" || len(d.UserID) > MaxUserIDLen {
		f.add("user_id", fmt.Sprintf("required, at most %d characters", MaxUserIDLen))
	}
	switch d.Platform {
	case PlatformExpo:
		if !expo.IsPushToken(d.Token) {
			f.add("token", "must be an Expo push token: ExponentPushToken[…] or ExpoPushToken[…]")
		}
	case PlatformFCM:
		if d.Token == "" || len(d.Token) > MaxTokenLen || strings.ContainsAny(d.Token, " \t\r\n") {
			f.add("token", fmt.Sprintf("required, at most %d characters, no spaces", MaxTokenLen))
		}
	default:
		f.add("platform", "must be expo or fcm")
	}
	if d.Locale == "" {
		d.Locale = deviceLocales[0]
	}
	if d.Locale != "en" && d.Locale != "sw" {
		f.add("locale", "must be en or sw")
	}
	return f.err()
}

// ErrDeviceTaken: the token is registered, and active, for another user,
// and the caller may not move it.
var ErrDeviceTaken = errors.New("push token registered to another user")

// RegisterDevice validates d and registers it, idempotently: registering a
// known token again updates it (locale, platform) and reactivates it, so
// created is true only the first time. A token that is active for another
// user moves to d.UserID (a phone changed hands) only when mayMove — for a
// service, which knows who holds the phone; a user cannot take over someone
// else's token, and gets ErrDeviceTaken. A deactivated token (the app was
// uninstalled) may be taken by anyone who registers it.
func RegisterDevice(ctx context.Context, db DB, d Device, mayMove bool) (out Device, created bool, err error) {
	if err := ValidateDevice(&d); err != nil {
		return Device{}, false, err
	}
	return NewStore(db).UpsertDevice(ctx, d, mayMove)
}

// DeleteDevice unregisters token. owner, when not empty, restricts the
// delete to that user's device. Deleting an unknown (or someone else's)
// token is not an error, so a retried DELETE succeeds and reveals nothing.
func DeleteDevice(ctx context.Context, db DB, token, owner string) error {
	if token == "" || len(token) > MaxTokenLen {
		return store.ErrNotFound
	}
	err := NewStore(db).DeleteDevice(ctx, token, owner)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}
