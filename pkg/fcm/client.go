package fcm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/golang-jwt/jwt/v5"
)

// MaxPayloadBytes is FCM's limit for a message to a token.
const MaxPayloadBytes = 4096

// Config configures a Client. Zero values take the defaults in setDefaults.
type Config struct {
	BaseURL   string // default https://fcm.googleapis.com
	TokenURL  string // default Account.TokenURI, else https://oauth2.googleapis.com/token
	ProjectID string // default Account.ProjectID
	Account   ServiceAccount
	// Timeout bounds one HTTP attempt. Default 10s.
	Timeout time.Duration
	// MaxConcurrent bounds sends in flight through this Client. Default 16.
	MaxConcurrent int
	// MaxAttempts bounds attempts per message. Default 5.
	MaxAttempts int
	// InitialBackoff, MaxBackoff and MaxElapsed shape retries (±50% jitter).
	// Defaults 1s, 60s, 5m.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	MaxElapsed     time.Duration
	HTTPClient     *http.Client
	NowFunc        func() time.Time
}

func (c *Config) setDefaults() {
	if c.BaseURL == "" {
		c.BaseURL = "https://fcm.googleapis.com"
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.TokenURL == "" {
		c.TokenURL = c.Account.TokenURI
	}
	if c.TokenURL == "" {
		c.TokenURL = "https://oauth2.googleapis.com/token"
	}
	if c.ProjectID == "" {
		c.ProjectID = c.Account.ProjectID
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = 16
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = time.Minute
	}
	if c.MaxElapsed == 0 {
		c.MaxElapsed = 5 * time.Minute
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
}

// Client sends FCM v1 messages. Safe for concurrent use; share one per process.
type Client struct {
	cfg    Config
	tokens *tokenSource
	sem    chan struct{} // one slot per send in flight
}

// NewClient parses the account's key and returns a Client.
func NewClient(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if cfg.ProjectID == "" || cfg.Account.ClientEmail == "" {
		return nil, errors.New("fcm: project id and service account are required")
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(cfg.Account.PrivateKey))
	if err != nil {
		return nil, fmt.Errorf("fcm: parse service account key: %w", err)
	}
	return &Client{
		cfg: cfg,
		sem: make(chan struct{}, cfg.MaxConcurrent),
		tokens: &tokenSource{
			http: cfg.HTTPClient, tokenURL: cfg.TokenURL, email: cfg.Account.ClientEmail,
			keyID: cfg.Account.PrivateKeyID, key: key, now: cfg.NowFunc, timeout: cfg.Timeout,
		},
	}, nil
}

// Message is one notification to one FCM registration token. Data values are
// strings, as FCM requires.
type Message struct {
	Token        string
	Title        string
	Body         string
	Data         map[string]string
	HighPriority bool
	CollapseKey  string
	ChannelID    string
	// TTL, when positive, bounds how long FCM keeps the message for an
	// offline device.
	TTL time.Duration
}

// Send delivers m and returns FCM's message name. Errors: ErrInvalidMessage
// (nothing sent), *Error (match ErrUnregistered with errors.Is; check
// IsTemporary for the retried kinds that ran out of attempts), or a network
// or token failure.
func (c *Client) Send(ctx context.Context, m Message) (string, error) {
	body, err := encodeMessage(m)
	if err != nil {
		return "", err
	}
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval, bo.Multiplier = c.cfg.InitialBackoff, c.cfg.MaxBackoff, 2
	return backoff.Retry(ctx, func() (string, error) { return c.attempt(ctx, body) },
		backoff.WithBackOff(bo),
		backoff.WithMaxTries(uint(c.cfg.MaxAttempts)),
		backoff.WithMaxElapsedTime(c.cfg.MaxElapsed))
}

func encodeMessage(m Message) ([]byte, error) {
	if m.Token == "" {
		return nil, fmt.Errorf("%w: no token", ErrInvalidMessage)
	}
	priority, apnsPriority := "NORMAL", "5"
	if m.HighPriority {
		priority, apnsPriority = "HIGH", "10"
	}
	android := map[string]any{"priority": priority}
	apnsHeaders := map[string]string{"apns-priority": apnsPriority}
	if m.CollapseKey != "" {
		android["collapse_key"] = m.CollapseKey
		apnsHeaders["apns-collapse-id"] = m.CollapseKey
	}
	if m.TTL > 0 {
		android["ttl"] = strconv.Itoa(int(m.TTL.Seconds())) + "s"
	}
	if m.ChannelID != "" {
		android["notification"] = map[string]string{"channel_id": m.ChannelID}
	}
	msg := map[string]any{
		"token":   m.Token,
		"android": android,
		"apns":    map[string]any{"headers": apnsHeaders},
	}
	if m.Title != "" || m.Body != "" {
		msg["notification"] = map[string]string{"title": m.Title, "body": m.Body}
	}
	if len(m.Data) > 0 {
		msg["data"] = m.Data
	}
	body, err := json.Marshal(map[string]any{"message": msg})
	if err != nil {
		return nil, fmt.Errorf("encode fcm message: %w", err)
	}
	if len(body)-len(m.Token) > MaxPayloadBytes {
		return nil, fmt.Errorf("%w: payload of %d bytes", ErrInvalidMessage, len(body))
	}
	return body, nil
}

func (c *Client) attempt(ctx context.Context, body []byte) (string, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return "", backoff.Permanent(&notSentError{ctx.Err()})
	}
	defer func() { <-c.sem }()

	token, err := c.tokens.Token(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return "", backoff.Permanent(&notSentError{ctx.Err()})
		}
		return "", classify(ctx, err)
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	url := c.cfg.BaseURL + "/v1/projects/" + c.cfg.ProjectID + "/messages:send"
	req, err := http.NewRequestWithContext(actx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", backoff.Permanent(fmt.Errorf("build fcm request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", classify(ctx, &networkError{err})
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", classify(ctx, &networkError{err})
	}
	if resp.StatusCode == http.StatusOK {
		var ok struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &ok); err != nil {
			return "", backoff.Permanent(fmt.Errorf("decode fcm answer: %w", err))
		}
		return ok.Name, nil
	}
	fe := decodeError(resp, raw)
	if resp.StatusCode == http.StatusUnauthorized {
		// The cached token was revoked or expired early: mint a new one.
		c.tokens.Invalidate(token)
		return "", fe
	}
	if !fe.Temporary() {
		return "", backoff.Permanent(fe)
	}
	if fe.RetryAfter > 0 {
		wait := fe.RetryAfter + rand.N(fe.RetryAfter/10+1)
		return "", errors.Join(fe, &backoff.RetryAfterError{Duration: wait})
	}
	return "", fe
}

// classify marks errors that retrying cannot cure as permanent.
func classify(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return backoff.Permanent(ctx.Err())
	}
	if IsTemporary(err) {
		return err
	}
	return backoff.Permanent(err)
}

func decodeError(resp *http.Response, raw []byte) *Error {
	fe := &Error{HTTPStatus: resp.StatusCode}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		fe.RetryAfter = time.Duration(s) * time.Second
	}
	var body struct {
		Error struct {
			Status  string `json:"status"`
			Message string `json:"message"`
			Details []struct {
				Type      string `json:"@type"`
				ErrorCode string `json:"errorCode"`
			} `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil {
		fe.Status, fe.Message = body.Error.Status, body.Error.Message
		for _, d := range body.Error.Details {
			if strings.HasSuffix(d.Type, "google.firebase.fcm.v1.FcmError") && d.ErrorCode != "" {
				fe.Code = d.ErrorCode
			}
		}
	}
	if fe.Message == "" {
		fe.Message = http.StatusText(resp.StatusCode)
	}
	return fe
}
