package fcm

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Scope is the OAuth2 scope FCM sends need.
const Scope = "https://www.googleapis.com/auth/firebase.messaging"

const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// tokenSource mints and caches access tokens. Safe for concurrent use: one
// refresh at a time, the others wait for it.
type tokenSource struct {
	http     *http.Client
	tokenURL string
	email    string
	keyID    string
	key      *rsa.PrivateKey
	now      func() time.Time
	timeout  time.Duration

	mu      sync.Mutex // guards token and expires; held during a refresh
	token   string
	expires time.Time
}

// Token returns a cached token, or mints one when none is valid for at least
// another refresh margin (5 minutes, or half the lifetime of short tokens).
func (ts *tokenSource) Token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token != "" && ts.now().Before(ts.expires) {
		return ts.token, nil
	}
	tok, ttl, err := ts.fetch(ctx)
	if err != nil {
		return "", err
	}
	margin := min(5*time.Minute, ttl/2)
	ts.token, ts.expires = tok, ts.now().Add(ttl-margin)
	return tok, nil
}

// Invalidate drops token if it is still the cached one (after a 401).
func (ts *tokenSource) Invalidate(token string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token == token {
		ts.token = ""
	}
}

func (ts *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	now := ts.now()
	claims := jwt.MapClaims{
		"iss":   ts.email,
		"scope": Scope,
		"aud":   ts.tokenURL,
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	if ts.keyID != "" {
		t.Header["kid"] = ts.keyID
	}
	assertion, err := t.SignedString(ts.key)
	if err != nil {
		return "", 0, fmt.Errorf("sign oauth assertion: %w", err)
	}
	form := url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion}}
	ctx, cancel := context.WithTimeout(ctx, ts.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := ts.http.Do(req)
	if err != nil {
		return "", 0, &networkError{fmt.Errorf("fetch access token: %w", err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, &networkError{fmt.Errorf("read access token: %w", err)}
	}
	if resp.StatusCode != http.StatusOK {
		// The body may echo the assertion; keep only the status.
		return "", 0, &TokenError{StatusCode: resp.StatusCode}
	}
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.AccessToken == "" {
		return "", 0, fmt.Errorf("decode access token: malformed answer")
	}
	ttl := time.Duration(body.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = time.Hour
	}
	return body.AccessToken, ttl, nil
}

// TokenError is a refused token exchange (bad key, revoked account...).
type TokenError struct{ StatusCode int }

func (e *TokenError) Error() string {
	return fmt.Sprintf("fcm: access token refused: http %d", e.StatusCode)
}

// Temporary reports whether a later exchange may succeed.
func (e *TokenError) Temporary() bool { return e.StatusCode == 429 || e.StatusCode >= 500 }
