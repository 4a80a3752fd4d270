package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// A user reads only their own tasks (404 for anyone else's, as for an
// unknown one) and never internal error text; services read everything.
func TestTaskReadableByOwnerOrServiceOnly(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	ctx := context.Background()
	for _, id := range []string{"cmd-mine", "cmd-theirs", "cmd-unowned"} {
		_, err := s.deps.Pool.Exec(ctx, `INSERT INTO commands (id, kind, state, error) VALUES ($1, 'payments:stk_push', 'failed', 'pq: relation "internal_table" does not exist')`, id)
		require.NoError(t, err)
	}
	require.NoError(t, recordTaskOwner(ctx, s.deps.Pool, "cmd-mine", Principal{Kind: "service", Name: "tests"}, "42"))
	require.NoError(t, recordTaskOwner(ctx, s.deps.Pool, "cmd-theirs", Principal{Kind: "user", Name: "user:7", UserID: "7"}, ""))
	require.NoError(t, recordTaskOwner(ctx, s.deps.Pool, "cmd-mine", Principal{Kind: "service", Name: "tests"}, "999"),
		"a second record keeps the first")

	user := func(id any) map[string]string {
		return map[string]string{"Authorization": userToken(t, jwt.MapClaims{"user_id": id})}
	}
	r := s.do(t, http.MethodGet, "/v1/tasks/cmd-mine", nil, user(42))
	require.Equal(t, http.StatusOK, r.Code, "%s", r.Body)
	require.Equal(t, "failed", r.JSON(t)["state"])
	require.NotContains(t, r.JSON(t), "last_error")
	require.NotContains(t, string(r.Body), "internal_table")

	for _, tc := range []struct {
		id   string
		user any
	}{{"cmd-mine", 999}, {"cmd-theirs", 42}, {"cmd-unowned", 42}, {"cmd-theirs", "user:7"}} {
		r := s.do(t, http.MethodGet, "/v1/tasks/"+tc.id, nil, user(tc.user))
		require.Equal(t, http.StatusNotFound, r.Code, "user %v reads %s", tc.user, tc.id)
		require.NotContains(t, string(r.Body), "internal_table")
	}
	r = s.do(t, http.MethodGet, "/v1/tasks/cmd-theirs", nil, user("7"))
	require.Equal(t, http.StatusOK, r.Code, "the user who accepted it")

	for _, id := range []string{"cmd-mine", "cmd-theirs", "cmd-unowned"} {
		r := s.do(t, http.MethodGet, "/v1/tasks/"+id, nil, serviceAuth())
		require.Equal(t, http.StatusOK, r.Code)
		require.Contains(t, r.JSON(t)["last_error"], "internal_table", "operators see the error")
	}
}
