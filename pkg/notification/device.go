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

// MaxTokenLen bounds native (FCM) push tokens.
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

// RegisterDevice validates d and registers it, idempotently: registering a
// known token again updates it (locale, platform), reactivates it, and moves
// it to d.UserID if another user had it (a phone changed hands). created is
// true only the first time.
func RegisterDevice(ctx context.Context, db DB, d Device) (out Device, created bool, err error) {
	if err := ValidateDevice(&d); err != nil {
		return Device{}, false, err
	}
	return NewStore(db).UpsertDevice(ctx, d)
}

// DeleteDevice unregisters token. owner, when not empty, restricts the
// delete to that user's device. Deleting an unknown (or someone else's)
// token is not an error, so a retried DELETE succeeds and reveals nothing.
func DeleteDevice(ctx context.Context, db DB, token, owner string) error {
	err := NewStore(db).DeleteDevice(ctx, token, owner)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}
