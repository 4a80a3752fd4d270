package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/config"
)

// Principal is who made a request: a service (API key) or a user (JWT).
type Principal struct {
	Kind   string // "service" or "user"
	Name   string // service key name, or "user:<id>"
	UserID string // set for users
}

const ctxPrincipal = "fundigo.principal"

func principalOf(c echo.Context) (Principal, bool) {
	p, ok := c.Get(ctxPrincipal).(Principal)
	return p, ok
}

func principalName(c echo.Context) string {
	if p, ok := principalOf(c); ok {
		return p.Name
	}
	return "anonymous"
}

func unauthorized(detail string) *Problem {
	return NewProblem(http.StatusUnauthorized, detail).WithHeader("WWW-Authenticate", `Bearer realm="fundigo"`)
}

// Every authentication middleware throttles too: a failed attempt is
// charged to the client IP's anonymous budget (once spent, 429 instead of
// 401), an admitted principal to its own scope (user or service).

// requireServiceKey admits requests carrying a configured service key in
// X-API-Key (compared in constant time). The key itself is never logged.
func requireServiceKey(keys config.APIKeys, th *throttler) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if p, ok := serviceFromKey(c, keys); ok {
				return admit(c, th, p, next)
			}
			return refuse(c, th, "a valid service key is required in the X-API-Key header")
		}
	}
}

// requireUserOrService admits a service key or a Django SimpleJWT access token.
func requireUserOrService(keys config.APIKeys, jwtSecret config.Secret, th *throttler) echo.MiddlewareFunc {
	verifier := newUserJWTVerifier(jwtSecret)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if p, ok := serviceFromKey(c, keys); ok {
				return admit(c, th, p, next)
			}
			auth := c.Request().Header.Get(echo.HeaderAuthorization)
			if tok, ok := strings.CutPrefix(auth, "Bearer "); ok && verifier != nil {
				uid, err := verifier.parse(tok)
				if err != nil {
					return refuse(c, th, "the bearer token is invalid or expired")
				}
				return admit(c, th, Principal{Kind: "user", Name: "user:" + uid, UserID: uid}, next)
			}
			return refuse(c, th, "a service key (X-API-Key) or a bearer token is required")
		}
	}
}

// admit records p as the request's principal and charges its scope.
func admit(c echo.Context, th *throttler, p Principal, next echo.HandlerFunc) error {
	c.Set(ctxPrincipal, p)
	if err := th.caller(c, p); err != nil {
		return err
	}
	return next(c)
}

// refuse answers a failed authentication: 401, or 429 once the client IP's
// anonymous budget is spent.
func refuse(c echo.Context, th *throttler, detail string) error {
	if err := th.anon(c); err != nil {
		return err
	}
	return unauthorized(detail)
}

func serviceFromKey(c echo.Context, keys config.APIKeys) (Principal, bool) {
	presented := c.Request().Header.Get("X-API-Key")
	if presented == "" {
		return Principal{}, false
	}
	name, ok := keys.Match(presented)
	if !ok {
		return Principal{}, false
	}
	return Principal{Kind: "service", Name: name}, true
}

// userJWTVerifier checks SimpleJWT access tokens; the parser and key are
// built once, not per request.
type userJWTVerifier struct {
	parser *jwt.Parser
	key    []byte
}

// newUserJWTVerifier returns nil when no secret is configured (bearer tokens
// are then not accepted).
func newUserJWTVerifier(secret config.Secret) *userJWTVerifier {
	if secret == "" {
		return nil
	}
	return &userJWTVerifier{
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithJSONNumber()),
		key:    []byte(secret.Reveal()),
	}
}

func (jv *userJWTVerifier) keyFunc(*jwt.Token) (any, error) { return jv.key, nil }

// parse verifies a SimpleJWT access token: HS256, unexpired,
// token_type "access" when present, and a user_id claim (number or string).
func (jv *userJWTVerifier) parse(raw string) (string, error) {
	claims := jwt.MapClaims{}
	_, err := jv.parser.ParseWithClaims(raw, claims, jv.keyFunc)
	if err != nil {
		return "", fmt.Errorf("parse jwt: %w", err)
	}
	if tt, ok := claims["token_type"]; ok && tt != "access" {
		return "", fmt.Errorf("token_type %v is not access", tt)
	}
	return userIDClaim(claims["user_id"])
}

// maxJWTUserIDLen bounds a string user_id.
const maxJWTUserIDLen = 128

// userIDClaim reads user_id: a JSON integer that fits in int64 (the parser
// keeps numbers as json.Number, never float64, so 42.9, 1e20 and ids above
// 2^53 are not rounded into someone else's id), or a non-empty string of at
// most 128 printable characters. A numeric string is canonicalized so "42"
// and 42 are the same user.
func userIDClaim(v any) (string, error) {
	switch v := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n < 0 {
			return "", fmt.Errorf("user_id %.40s is not an integer id", string(v))
		}
		return strconv.FormatInt(n, 10), nil
	case string:
		if v == "" || len(v) > maxJWTUserIDLen {
			return "", errors.New("user_id string is empty or too long")
		}
		for _, r := range v {
			if !unicode.IsPrint(r) || r == ' ' {
				return "", errors.New("user_id string has a control or space character")
			}
		}
		if isDigits(v) {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return "", errors.New("user_id numeric string is out of range")
			}
			return strconv.FormatInt(n, 10), nil
		}
		return v, nil
	}
	return "", errors.New("missing user_id claim")
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
