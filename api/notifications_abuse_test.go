package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/notification"
)

// Issue 18 row 4: a user token cannot take over another user's active push
// token (the victim's notifications would go to the attacker); a service
// may move it (a phone changed hands, as the Django app knows).
func TestDeviceTakeoverRefused(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	tok := "ExponentPushToken[victim-device]"
	r := s.do(t, http.MethodPost, "/v1/devices", map[string]any{"user_id": "100", "token": tok, "platform": "expo"}, userAuth(t, "100"))
	require.Equal(t, http.StatusCreated, r.Code, string(r.Body))

	r = s.do(t, http.MethodPost, "/v1/devices", map[string]any{"user_id": "200", "token": tok, "platform": "expo"}, userAuth(t, "200"))
	require.Equal(t, http.StatusConflict, r.Code, string(r.Body))
	d, err := notification.NewStore(s.deps.Pool).Device(t.Context(), tok)
	require.NoError(t, err)
	require.Equal(t, "100", d.UserID, "the victim keeps the token")
	require.True(t, d.Active)

	// The owner re-registering is still idempotent.
	r = s.do(t, http.MethodPost, "/v1/devices", map[string]any{"user_id": "100", "token": tok, "platform": "expo", "locale": "sw"}, userAuth(t, "100"))
	require.Equal(t, http.StatusCreated, r.Code, string(r.Body))

	// A service moves it.
	r = s.do(t, http.MethodPost, "/v1/devices", map[string]any{"user_id": "200", "token": tok, "platform": "expo"}, serviceAuth())
	require.Equal(t, http.StatusCreated, r.Code, string(r.Body))
	require.Equal(t, "200", r.JSON(t)["user_id"])
}

// Issue 18 row 7: params are bounded in count and size, title/body in bytes,
// and the rendered push must fit Expo's 4096-byte payload: all refused with
// 422 at the API instead of failing later as MessageTooBig.
func TestNotificationInputBounded(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	manyParams := map[string]any{"job_id": "J-1"}
	for i := range 30 {
		manyParams["p"+strings.Repeat("x", i+1)] = 1
	}
	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"huge param": {map[string]any{"user_ids": []string{"u1"}, "template": "job_assigned",
			"params": map[string]any{"job_id": strings.Repeat("j", 900*1024)}}, "params"},
		"too many params": {map[string]any{"user_ids": []string{"u1"}, "template": "job_assigned", "params": manyParams}, "params"},
		// 150 characters, 300 bytes.
		"title in bytes": {map[string]any{"user_ids": []string{"u1"}, "title": strings.Repeat("é", 150)}, "title"},
		// 1,500 characters, 3,000 bytes.
		"body in bytes": {map[string]any{"user_ids": []string{"u1"}, "body": strings.Repeat("é", 1500)}, "body"},
		// Every field within its own bound, the whole over 4096 bytes.
		"payload": {map[string]any{"user_ids": []string{"u1"}, "title": strings.Repeat("t", 200),
			"body": strings.Repeat("b", 2000), "data": map[string]any{"blob": strings.Repeat("d", 3000)}}, "payload"},
		// A template whose rendered text is too big with otherwise legal
		// params.
		"rendered template": {map[string]any{"user_ids": []string{"u1"}, "template": "job_assigned",
			"params": map[string]any{"job_id": strings.Repeat("j", 1000)}, "data": map[string]any{"blob": strings.Repeat("d", 3000)}}, "payload"},
	} {
		r := s.do(t, http.MethodPost, "/v1/notifications", tc.body, serviceAuth())
		require.Equal(t, http.StatusUnprocessableEntity, r.Code, name)
		require.Equal(t, tc.field, r.JSON(t)["errors"].([]any)[0].(map[string]any)["field"], name)
	}
	var n int
	require.NoError(t, s.deps.Pool.QueryRow(t.Context(), `SELECT count(*) FROM notifications`).Scan(&n))
	require.Zero(t, n, "nothing was stored or published")

	// At the limits it is accepted.
	r := s.do(t, http.MethodPost, "/v1/notifications", map[string]any{"user_ids": []string{"u1"},
		"title": strings.Repeat("t", 200), "body": strings.Repeat("b", 2000),
		"data": map[string]any{"blob": strings.Repeat("d", 1500)}}, serviceAuth())
	require.Equal(t, http.StatusAccepted, r.Code, string(r.Body))
}

// Issue 18 row 9: every notification path id is length-checked; an
// over-long one is no such resource, and never reaches the database.
func TestNotificationPathIDsBounded(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	long := strings.Repeat("1", 5000)
	r := s.do(t, http.MethodGet, "/v1/users/"+long+"/notification-preferences", nil, serviceAuth())
	require.Equal(t, http.StatusNotFound, r.Code, "GET checks the id like PUT")
	r = s.do(t, http.MethodPut, "/v1/users/"+long+"/notification-preferences", map[string]any{}, serviceAuth())
	require.Equal(t, http.StatusNotFound, r.Code)
	r = s.do(t, http.MethodDelete, "/v1/devices/"+url.PathEscape("ExponentPushToken["+long+"]"), nil, serviceAuth())
	require.Equal(t, http.StatusNotFound, r.Code)
	r = s.do(t, http.MethodGet, "/v1/notifications/"+long, nil, serviceAuth())
	require.Equal(t, http.StatusNotFound, r.Code)
}
