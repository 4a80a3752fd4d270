package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

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

// requireServiceKey admits requests carrying a configured service key in
// X-API-Key (compared in constant time). The key itself is never logged.
func requireServiceKey(keys config.APIKeys) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if p, ok := serviceFromKey(c, keys); ok {
				c.Set(ctxPrincipal, p)
				return next(c)
			}
			return unauthorized("a valid service key is required in the X-API-Key header")
		}
	}
}

// requireUserOrService admits a service key or a Django SimpleJWT access token.
func requireUserOrService(keys config.APIKeys, jwtSecret config.Secret) echo.MiddlewareFunc {
	verifier := newUserJWTVerifier(jwtSecret)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if p, ok := serviceFromKey(c, keys); ok {
				c.Set(ctxPrincipal, p)
				return next(c)
			}
			auth := c.Request().Header.Get(echo.HeaderAuthorization)
			if tok, ok := strings.CutPrefix(auth, "Bearer "); ok && verifier != nil {
				uid, err := verifier.parse(tok)
				if err != nil {
					return unauthorized("the bearer token is invalid or expired")
				}
				c.Set(ctxPrincipal, Principal{Kind: "user", Name: "user:" + uid, UserID: uid})
				return next(c)
			}
			return unauthorized("a service key (X-API-Key) or a bearer token is required")
		}
	}
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
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired()),
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
	switch v := claims["user_id"].(type) {
	case string:
		if v != "" {
			return v, nil
		}
	case float64:
		return strconv.FormatInt(int64(v), 10), nil
	}
	return "", fmt.Errorf("missing user_id claim")
}
