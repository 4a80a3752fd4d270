package mpesa

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClientConfig configures a Client. Zero values get the defaults set in setDefaults.
type ClientConfig struct {
	// BaseURL is Daraja's (https://sandbox.safaricom.co.ke,
	// https://api.safaricom.co.ke) or the simulator's.
	BaseURL        string
	ConsumerKey    string
	ConsumerSecret string
	// ShortCode is the BusinessShortCode; Passkey builds the Password.
	ShortCode string
	Passkey   string
	// TransactionType is CustomerPayBillOnline (default) or CustomerBuyGoodsOnline.
	TransactionType string
	// PartyB receives the money; defaults to ShortCode (paybill).
	PartyB string
	// CallbackURL is where Daraja POSTs STK results.
	CallbackURL string
	// Timeout bounds each HTTP call (default 15s).
	Timeout time.Duration
	// TokenKey is the Redis key of the shared OAuth token (default
	// "fundigo:mpesa:oauth"); its refresh lock is TokenKey + ":lock".
	TokenKey string
	// TokenRefreshMargin: a token this close to expiry is replaced (default 5m).
	TokenRefreshMargin time.Duration
	// HTTPClient defaults to a client with no overall timeout (Timeout applies per call).
	HTTPClient *http.Client
	// NowFunc is the clock (default time.Now).
	NowFunc func() time.Time
}

func (c *ClientConfig) setDefaults() {
	if c.TransactionType == "" {
		c.TransactionType = "CustomerPayBillOnline"
	}
	if c.PartyB == "" {
		c.PartyB = c.ShortCode
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Second
	}
	if c.TokenKey == "" {
		c.TokenKey = "fundigo:mpesa:oauth"
	}
	if c.TokenRefreshMargin <= 0 {
		c.TokenRefreshMargin = 5 * time.Minute
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
}

// Validate reports missing settings, all at once.
func (c *ClientConfig) Validate() error {
	var errs []error
	for name, v := range map[string]string{
		"base url": c.BaseURL, "consumer key": c.ConsumerKey, "consumer secret": c.ConsumerSecret,
		"short code": c.ShortCode, "passkey": c.Passkey, "callback url": c.CallbackURL,
	} {
		if v == "" {
			errs = append(errs, fmt.Errorf("mpesa client: %s is required", name))
		}
	}
	return errors.Join(errs...)
}

// Client calls Daraja. It is safe for concurrent use; all Clients configured
// with the same Redis and TokenKey share one OAuth token.
type Client struct {
	cfg    ClientConfig
	tokens *tokenSource
}

// NewClient returns a Client whose OAuth token is cached in rdb.
func NewClient(rdb redis.UniversalClient, cfg ClientConfig) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	c := &Client{cfg: cfg}
	c.tokens = &tokenSource{
		rdb:       rdb,
		key:       cfg.TokenKey,
		lockKey:   cfg.TokenKey + ":lock",
		margin:    cfg.TokenRefreshMargin,
		lockTTL:   cfg.Timeout + 5*time.Second,
		pollEvery: 25 * time.Millisecond,
		nowFunc:   cfg.NowFunc,
		fetchFunc: c.fetchToken,
	}
	return c, nil
}

// Password is base64(shortcode + passkey + timestamp), the STK Password.
func Password(shortCode, passkey, timestamp string) string {
	return base64.StdEncoding.EncodeToString([]byte(shortCode + passkey + timestamp))
}

// call POSTs body to path with the shared token and decodes a 200 answer into
// out. A refused token is refreshed and the request sent once more.
func (c *Client) call(ctx context.Context, path string, body, out any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.tokens.Token(ctx)
		if err != nil {
			return fmt.Errorf("get access token: %w: %w", ErrNotSent, err)
		}
		err = c.send(ctx, http.MethodPost, path, "Bearer "+tok, payload, out)
		var apiErr *APIError
		if attempt == 0 && errors.As(err, &apiErr) && apiErr.InvalidToken() {
			if err := c.tokens.Invalidate(ctx, tok); err != nil {
				return fmt.Errorf("%w: %w", ErrNotSent, err)
			}
			continue
		}
		return err
	}
}

// send performs one HTTP exchange and classifies its failure: ErrNotSent if
// the request was not completely written, ErrAmbiguous if it was and no
// usable answer came back, *APIError if Daraja answered with an error.
func (c *Client) send(ctx context.Context, method, path, auth string, payload []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	})
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.BaseURL+path, rd)
	if err != nil {
		return fmt.Errorf("build request %s: %w: %w", path, ErrNotSent, err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		if !wrote.Load() {
			return fmt.Errorf("%s %s: %w: %w", method, path, ErrNotSent, StripURL(err))
		}
		return fmt.Errorf("%s %s: %w: %w", method, path, ErrAmbiguous, StripURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w: %w", method, path, ErrAmbiguous, err)
	}
	if resp.StatusCode == http.StatusOK {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w: %w", method, path, ErrAmbiguous, err)
		}
		return nil
	}
	var env struct {
		RequestID    FlexString `json:"requestId"`
		ErrorCode    FlexString `json:"errorCode"`
		ErrorMessage FlexString `json:"errorMessage"`
	}
	if json.Unmarshal(data, &env) == nil && env.ErrorCode != "" {
		return &APIError{HTTPStatus: resp.StatusCode, RequestID: string(env.RequestID),
			Code: string(env.ErrorCode), Message: string(env.ErrorMessage)}
	}
	if resp.StatusCode >= 500 {
		// A bare 5xx (often a gateway) says nothing about whether Daraja acted.
		return fmt.Errorf("%s %s: http %d without an error body: %w", method, path, resp.StatusCode, ErrAmbiguous)
	}
	return &APIError{HTTPStatus: resp.StatusCode, Code: fmt.Sprintf("http.%d", resp.StatusCode),
		Message: http.StatusText(resp.StatusCode)}
}

// StripURL removes the request URL from *url.Error so error strings stay
// short and never carry a URL's secret path token; the URL is configuration,
// not news.
func StripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
