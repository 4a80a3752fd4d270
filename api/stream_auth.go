package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"fundigo/pkg/config"
	"fundigo/pkg/live"
)

// streamAuth authenticates the live-update routes. Besides the X-API-Key
// and Authorization: Bearer headers of every route, it accepts the user's
// token as ?token= (EventSource and browser WebSocket clients cannot set
// headers; the access log records the route template, never the query) and,
// on the WebSocket route only, as the first message.
type streamAuth struct {
	keys     config.APIKeys
	verifier *userJWTVerifier
	th       *throttler
}

func newStreamAuth(d Deps, th *throttler) streamAuth {
	return streamAuth{keys: d.Config.Auth.APIKeys, verifier: newUserJWTVerifier(d.Config.Auth.JWTSecret), th: th}
}

// fromRequest authenticates c's headers or ?token=. presented is false when
// the request carries no credential at all (the WebSocket route then waits
// for the first message); a credential that does not verify is a 401.
func (a streamAuth) fromRequest(c echo.Context) (p Principal, presented bool, err error) {
	if c.Request().Header.Get("X-API-Key") != "" {
		if p, ok := serviceFromKey(c, a.keys); ok {
			return p, true, a.admitted(c, p)
		}
		return Principal{}, true, refuse(c, a.th, "the service key is not valid")
	}
	tok := ""
	if auth := c.Request().Header.Get(echo.HeaderAuthorization); auth != "" {
		var ok bool
		if tok, ok = strings.CutPrefix(auth, "Bearer "); !ok {
			return Principal{}, true, refuse(c, a.th, "the Authorization header must be a bearer token")
		}
	} else if q := c.QueryParam("token"); q != "" {
		tok = q
	}
	if tok == "" {
		return Principal{}, false, nil
	}
	p, err = a.user(c, tok)
	return p, true, err
}

// user verifies a SimpleJWT access token.
func (a streamAuth) user(c echo.Context, tok string) (Principal, error) {
	if a.verifier == nil {
		return Principal{}, refuse(c, a.th, "bearer tokens are not accepted here (no JWT secret configured)")
	}
	uid, err := a.verifier.parse(tok)
	if err != nil {
		return Principal{}, refuse(c, a.th, "the bearer token is invalid or expired")
	}
	p := Principal{Kind: "user", Name: "user:" + uid, UserID: uid}
	return p, a.admitted(c, p)
}

// admitted records p as the request's principal and charges its scope.
func (a streamAuth) admitted(c echo.Context, p Principal) error {
	c.Set(ctxPrincipal, p)
	return a.th.caller(c, p)
}

// streamOwner is whose events p may watch: a user its own (user= may name
// only itself), a service any user it names in user=.
func streamOwner(p Principal, user string) (string, error) {
	switch {
	case p.Kind == "service" && user == "":
		return "", Validation(FieldError{Field: "user", Message: "a service must name the user whose events it watches"})
	case p.Kind == "service":
		if !live.ValidOwner(user) {
			return "", Validation(FieldError{Field: "user", Message: "1 to 128 printable characters, no spaces"})
		}
		return user, nil
	case user != "" && user != p.UserID:
		return "", NewProblem(http.StatusForbidden, "a user may only watch its own events")
	}
	return p.UserID, nil
}

// isStreamRoute reports whether c's route is a long-lived live-update
// route: it skips the request deadline, gzip, the body limit and the
// request-duration histogram, none of which suit a connection held for
// hours.
func isStreamRoute(c echo.Context) bool {
	switch c.Path() {
	case "/v1/stream", "/v1/events":
		return true
	}
	return false
}
