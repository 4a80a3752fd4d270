package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
)

// user_id is an integer id (kept exact, never through float64) or a string;
// fractions, exponents and ids beyond int64 are refused with 401 rather than
// rounded into someone else's id.
func TestJWTUserIDMustBeAnExactID(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	s.e.GET("/v1/test/whoami", func(c echo.Context) error {
		p, _ := principalOf(c)
		return c.String(http.StatusOK, p.Name)
	}, s.deps.middlewaresForTest().userOrService)

	for raw, want := range map[string]string{
		"42":                  "user:42",
		"9007199254740993":    "user:9007199254740993", // 2^53+1: a float64 makes it ...992
		"9223372036854775807": "user:9223372036854775807",
		`"42"`:                "user:42",
		`"0042"`:              "user:42",
		`"u-7"`:               "user:u-7",
	} {
		tok := userToken(t, jwt.MapClaims{"user_id": json.RawMessage(raw)})
		r := s.do(t, http.MethodGet, "/v1/test/whoami", nil, map[string]string{"Authorization": tok})
		require.Equal(t, http.StatusOK, r.Code, raw)
		require.Equal(t, want, string(r.Body), raw)
	}
	for _, raw := range []string{
		"42.9", "42.0", "1e20", "4.2e1", "9223372036854775808", "-1", "true", "null", `""`, `"4 2"`,
		`"99999999999999999999"`, `{"id":42}`, `[42]`,
	} {
		tok := userToken(t, jwt.MapClaims{"user_id": json.RawMessage(raw)})
		r := s.do(t, http.MethodGet, "/v1/test/whoami", nil, map[string]string{"Authorization": tok})
		require.Equal(t, http.StatusUnauthorized, r.Code, "user_id %s", raw)
	}
}
