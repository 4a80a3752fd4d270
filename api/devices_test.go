package api

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/notification"
	"fundigo/pkg/store"
)

// userAuth is a SimpleJWT access token for userID.
func userAuth(t *testing.T, userID string) map[string]string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"user_id": userID, "token_type": "access", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte("jwt-test-secret-0123456789"))
	require.NoError(t, err)
	return map[string]string{"Authorization": "Bearer " + tok}
}

func TestRegisterDevice(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	tok := "ExponentPushToken[abcDEF123]"

	r := s.do(t, http.MethodPost, "/v1/devices", map[string]any{"user_id": "u1", "token": tok, "platform": "expo", "locale": "sw"}, serviceAuth())
	require.Equal(t, http.StatusCreated, r.Code, string(r.Body))
	require.Equal(t, map[string]any{"token": tok, "user_id": "u1", "platform": "expo", "locale": "sw", "active": true}, r.JSON(t))

	// Idempotent: the same registration again is still one device.
	r = s.do(t, http.MethodPost, "/v1/devices", map[string]any{"user_id": "u1", "token": tok, "platform": "expo", "locale": "sw"}, serviceAuth())
	require.Equal(t, http.StatusCreated, r.Code)

	// The token moves to the user who registers it next, and is reactivated.
	_, err := notification.NewStore(s.deps.Pool).DeactivateDevices(t.Context(), []string{tok}, "DeviceNotRegistered")
	require.NoError(t, err)
	r = s.do(t, http.MethodPost, "/v1/devices", map[string]any{"user_id": "u2", "token": tok, "platform": "expo"}, userAuth(t, "u2"))
	require.Equal(t, http.StatusCreated, r.Code, string(r.Body))
	d, err := notification.NewStore(s.deps.Pool).Device(t.Context(), tok)
	require.NoError(t, err)
	require.Equal(t, "u2", d.UserID)
	require.Equal(t, "en", d.Locale)
	require.True(t, d.Active)
	var count int
	require.NoError(t, s.deps.Pool.QueryRow(t.Context(), `SELECT count(*) FROM devices`).Scan(&count))
	require.Equal(t, 1, count)

	// FCM tokens are free-form.
	r = s.do(t, http.MethodPost, "/v1/devices", map[string]any{"user_id": "u3", "token": "fcm:APA91bHun4MxP5", "platform": "fcm"}, serviceAuth())
	require.Equal(t, http.StatusCreated, r.Code, string(r.Body))
}

func TestRegisterDeviceRejects(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"not an expo token": {map[string]any{"user_id": "u1", "token": "abc", "platform": "expo"}, "token"},
		"no platform":       {map[string]any{"user_id": "u1", "token": "ExpoPushToken[x]"}, "platform"},
		"bad locale":        {map[string]any{"user_id": "u1", "token": "ExpoPushToken[x]", "platform": "expo", "locale": "fr"}, "locale"},
		"no user":           {map[string]any{"token": "ExpoPushToken[x]", "platform": "expo"}, "user_id"},
		"unknown field":     {map[string]any{"user_id": "u1", "token": "ExpoPushToken[x]", "platform": "expo", "x": 1}, "x"},
	} {
		r := s.do(t, http.MethodPost, "/v1/devices", tc.body, serviceAuth())
		require.Equal(t, http.StatusUnprocessableEntity, r.Code, name)
		require.Equal(t, tc.field, r.JSON(t)["errors"].([]any)[0].(map[string]any)["field"], name)
	}
	r := s.do(t, http.MethodPost, "/v1/devices", map[string]any{"user_id": "u1", "token": "ExpoPushToken[x]", "platform": "expo"}, nil)
	require.Equal(t, http.StatusUnauthorized, r.Code)
	r = s.do(t, http.MethodPost, "/v1/devices", map[string]any{"user_id": "u1", "token": "ExpoPushToken[x]", "platform": "expo"}, userAuth(t, "u9"))
	require.Equal(t, http.StatusForbidden, r.Code, "a user registers only their own devices")
	var count int
	require.NoError(t, s.deps.Pool.QueryRow(t.Context(), `SELECT count(*) FROM devices`).Scan(&count))
	require.Zero(t, count, "rejected requests change nothing")
}

func TestDeleteDevice(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	tok := "ExponentPushToken[to-delete]"
	r := s.do(t, http.MethodPost, "/v1/devices", map[string]any{"user_id": "u1", "token": tok, "platform": "expo"}, serviceAuth())
	require.Equal(t, http.StatusCreated, r.Code)
	path := "/v1/devices/" + url.PathEscape(tok)

	// Another user cannot remove it (and learns nothing).
	r = s.do(t, http.MethodDelete, path, nil, userAuth(t, "u2"))
	require.Equal(t, http.StatusNoContent, r.Code)
	_, err := notification.NewStore(s.deps.Pool).Device(t.Context(), tok)
	require.NoError(t, err)

	r = s.do(t, http.MethodDelete, path, nil, userAuth(t, "u1"))
	require.Equal(t, http.StatusNoContent, r.Code)
	_, err = notification.NewStore(s.deps.Pool).Device(t.Context(), tok)
	require.ErrorIs(t, err, store.ErrNotFound)

	r = s.do(t, http.MethodDelete, path, nil, serviceAuth())
	require.Equal(t, http.StatusNoContent, r.Code, "deleting again is fine")
}
