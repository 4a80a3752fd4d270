package mpesa

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// fetchToken asks Daraja for a new OAuth token. Only the tokenSource calls it,
// under the refresh lock: every call invalidates the token everyone is using.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	var out struct {
		AccessToken string     `json:"access_token"`
		ExpiresIn   FlexString `json:"expires_in"` // 3599 or "3599"
	}
	basic := base64.StdEncoding.EncodeToString([]byte(c.cfg.ConsumerKey + ":" + c.cfg.ConsumerSecret))
	err := c.send(ctx, http.MethodGet, "/oauth/v1/generate?grant_type=client_credentials", "Basic "+basic, nil, &out)
	if err != nil {
		return "", 0, fmt.Errorf("generate access token: %w", err)
	}
	secs, err := strconv.ParseFloat(string(out.ExpiresIn), 64)
	if out.AccessToken == "" || err != nil || secs <= 0 {
		return "", 0, errors.New("generate access token: answer without token or expiry")
	}
	return out.AccessToken, time.Duration(secs * float64(time.Second)), nil
}
