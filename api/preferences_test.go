package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNotificationPreferences(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	path := "/v1/users/u1/notification-preferences"

	r := s.do(t, http.MethodGet, path, nil, serviceAuth())
	require.Equal(t, http.StatusOK, r.Code, string(r.Body))
	require.Equal(t, []any{}, r.JSON(t)["muted_categories"])
	require.Nil(t, r.JSON(t)["quiet_hours"])

	r = s.do(t, http.MethodPut, path, map[string]any{
		"muted_categories": []string{"marketing", "marketing", "tips"},
		"quiet_hours":      map[string]string{"start": "22:00", "end": "07:00", "tz": "Africa/Nairobi"},
	}, userAuth(t, "u1"))
	require.Equal(t, http.StatusOK, r.Code, string(r.Body))

	r = s.do(t, http.MethodGet, path, nil, userAuth(t, "u1"))
	require.Equal(t, http.StatusOK, r.Code)
	got := r.JSON(t)
	require.Equal(t, []any{"marketing", "tips"}, got["muted_categories"])
	require.Equal(t, map[string]any{"start": "22:00", "end": "07:00", "tz": "Africa/Nairobi"}, got["quiet_hours"])

	// Clearing quiet hours.
	r = s.do(t, http.MethodPut, path, map[string]any{"muted_categories": []string{}, "quiet_hours": nil}, serviceAuth())
	require.Equal(t, http.StatusOK, r.Code)
	require.Nil(t, r.JSON(t)["quiet_hours"])

	r = s.do(t, http.MethodGet, path, nil, userAuth(t, "u2"))
	require.Equal(t, http.StatusForbidden, r.Code)
}

func TestNotificationPreferencesRejects(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	path := "/v1/users/u1/notification-preferences"
	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"bad start": {map[string]any{"quiet_hours": map[string]string{"start": "25:00", "end": "07:00", "tz": "UTC"}}, "quiet_hours.start"},
		"bad end":   {map[string]any{"quiet_hours": map[string]string{"start": "22:00", "end": "7", "tz": "UTC"}}, "quiet_hours.end"},
		"bad zone":  {map[string]any{"quiet_hours": map[string]string{"start": "22:00", "end": "07:00", "tz": "Mars/Base"}}, "quiet_hours.tz"},
		"no zone":   {map[string]any{"quiet_hours": map[string]string{"start": "22:00", "end": "07:00"}}, "quiet_hours.tz"},
		"empty cat": {map[string]any{"muted_categories": []string{""}}, "muted_categories"},
	} {
		r := s.do(t, http.MethodPut, path, tc.body, serviceAuth())
		require.Equal(t, http.StatusUnprocessableEntity, r.Code, name)
		require.Equal(t, tc.field, r.JSON(t)["errors"].([]any)[0].(map[string]any)["field"], name)
	}
	r := s.do(t, http.MethodPut, path, map[string]any{}, userAuth(t, "u2"))
	require.Equal(t, http.StatusForbidden, r.Code)
}
