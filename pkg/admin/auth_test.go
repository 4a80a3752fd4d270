package admin_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/admin"
	"fundigo/pkg/config"
)

func TestRequireKey(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	keys := config.APIKeys{{Name: "ops", Secret: "ops-secret-0123456789"}}
	h := admin.RequireKey(keys, ok)
	for name, tc := range map[string]struct {
		set  func(r *http.Request)
		want int
	}{
		"no key":        {func(*http.Request) {}, http.StatusUnauthorized},
		"wrong header":  {func(r *http.Request) { r.Header.Set("X-API-Key", "nope-nope-nope-nope") }, http.StatusUnauthorized},
		"header":        {func(r *http.Request) { r.Header.Set("X-API-Key", "ops-secret-0123456789") }, http.StatusTeapot},
		"basic auth":    {func(r *http.Request) { r.SetBasicAuth("anyone", "ops-secret-0123456789") }, http.StatusTeapot},
		"wrong basic":   {func(r *http.Request) { r.SetBasicAuth("ops", "ops-secret-012345678") }, http.StatusUnauthorized},
		"prefix of key": {func(r *http.Request) { r.Header.Set("X-API-Key", "ops-secret") }, http.StatusUnauthorized},
	} {
		r := httptest.NewRequest(http.MethodGet, "/asynq/", nil)
		tc.set(r)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, tc.want, w.Code, name)
		if tc.want == http.StatusUnauthorized {
			require.Contains(t, w.Header().Get("WWW-Authenticate"), "Basic", name)
		}
	}
	// No keys configured: nothing is served, whatever is presented.
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/asynq/", nil)
	r.Header.Set("X-API-Key", "ops-secret-0123456789")
	admin.RequireKey(nil, ok).ServeHTTP(w, r)
	require.Equal(t, http.StatusUnauthorized, w.Code)
}
