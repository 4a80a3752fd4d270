package admin

import (
	"net/http"

	"fundigo/pkg/config"
)

// RequireKey serves next only to a caller presenting one of keys, as the
// X-API-Key header or (for a browser) as the password of HTTP Basic auth;
// the comparison is constant-time (config.APIKeys.Match). Without any key
// configured nothing is served. Everyone else gets 401 with a Basic
// challenge.
func RequireKey(keys config.APIKeys, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		presented := r.Header.Get("X-API-Key")
		if presented == "" {
			_, presented, _ = r.BasicAuth()
		}
		if presented == "" || len(keys) == 0 {
			unauthorized(w)
			return
		}
		if _, ok := keys.Match(presented); !ok {
			unauthorized(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="fundigo admin", charset="UTF-8"`)
	http.Error(w, "a service key is required (X-API-Key, or as the Basic auth password)", http.StatusUnauthorized)
}
