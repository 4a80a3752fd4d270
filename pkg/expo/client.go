package expo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Paths of the Expo push API, relative to Config.BaseURL.
const (
	SendPath     = "/--/api/v2/push/send"
	ReceiptsPath = "/--/api/v2/push/getReceipts"
)

// Config configures a Client. Zero values take the defaults in setDefaults.
type Config struct {
	BaseURL     string // default https://exp.host
	AccessToken string // optional; sent as Authorization: Bearer (never logged)
	// Timeout bounds one HTTP attempt. Default 10s.
	Timeout time.Duration
	// MaxConcurrent bounds requests in flight through this Client. Default 6.
	MaxConcurrent int
	// MaxAttempts bounds attempts per request (first try included). Default 5.
	MaxAttempts int
	// InitialBackoff and MaxBackoff shape the exponential backoff (with ±50%
	// jitter) between attempts. Defaults 1s and 30s.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// MaxElapsed bounds the time spent retrying one request. Default 2m.
	MaxElapsed time.Duration
	// Limiter, when set, admits every message of every send attempt.
	Limiter Limiter
	// HTTPClient defaults to a client without its own timeout (Timeout applies).
	HTTPClient *http.Client
	// RetryNotifyFunc, when set, is called before each retry wait (metrics, logs).
	RetryNotifyFunc func(err error, wait time.Duration)
}

func (c *Config) setDefaults() {
	if c.BaseURL == "" {
		c.BaseURL = "https://exp.host"
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = 6
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.MaxElapsed == 0 {
		c.MaxElapsed = 2 * time.Minute
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
}

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		errs = append(errs, fmt.Errorf("expo base url %q: want http(s)://", c.BaseURL))
	}
	if c.MaxConcurrent < 1 || c.MaxAttempts < 1 || c.Timeout < 0 || c.InitialBackoff < 0 || c.MaxBackoff < c.InitialBackoff {
		errs = append(errs, errors.New("expo: concurrency, attempts and backoff must be positive"))
	}
	return errors.Join(errs...)
}

// Client sends push messages and fetches receipts. It is safe for concurrent
// use; share one per process so MaxConcurrent holds process-wide.
type Client struct {
	cfg Config
	sem chan struct{} // one slot per request in flight
}

// NewClient returns a Client for cfg.
func NewClient(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, sem: make(chan struct{}, cfg.MaxConcurrent)}, nil
}

// ChunkError reports that the messages [Start, End) of a Send were not
// confirmed by a ticket. IsTemporary(Err) tells whether Expo certainly did not
// take them (a temporary answer or a refused rate slot) and a later retry is
// safe; otherwise the outcome is unknown.
type ChunkError struct {
	Start, End int
	Err        error
}

func (e *ChunkError) Error() string {
	return fmt.Sprintf("messages %d..%d: %v", e.Start, e.End-1, e.Err)
}
func (e *ChunkError) Unwrap() error { return e.Err }

// Send validates every message (nothing is sent if one is invalid), then sends
// them in chunks, concurrently up to MaxConcurrent. The result has one Ticket
// per message, in order. When chunks fail, the error joins one *ChunkError per
// failed chunk and those messages' tickets are left zero (empty Status); the
// other tickets are valid.
func (c *Client) Send(ctx context.Context, msgs []Message) ([]Ticket, error) {
	// Each message is encoded once: the encoding is checked and then
	// becomes part of its chunk's body.
	encoded := make([][]byte, len(msgs))
	for i, m := range msgs {
		raw, err := m.validated()
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		encoded[i] = raw
	}
	size := MaxMessagesPerRequest
	if c.cfg.Limiter != nil {
		size = min(size, c.cfg.Limiter.MaxBatch())
	}
	tickets := make([]Ticket, len(msgs))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for start := 0; start < len(msgs); start += size {
		end := min(start+size, len(msgs))
		wg.Go(func() {
			got, err := c.sendChunk(ctx, encoded[start:end])
			if err != nil {
				mu.Lock()
				errs = append(errs, &ChunkError{Start: start, End: end, Err: err})
				mu.Unlock()
				return
			}
			copy(tickets[start:end], got)
		})
	}
	wg.Wait()
	return tickets, errors.Join(errs...)
}

// sendChunk sends the encoded messages msgs as one JSON array.
func (c *Client) sendChunk(ctx context.Context, msgs [][]byte) ([]Ticket, error) {
	size := len(msgs) + 1
	for _, m := range msgs {
		size += len(m)
	}
	body := make([]byte, 0, size)
	body = append(body, '[')
	for i, m := range msgs {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, m...)
	}
	body = append(body, ']')
	raw, err := c.post(ctx, SendPath, body, len(msgs))
	if err != nil {
		return nil, err
	}
	var resp struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return nil, fmt.Errorf("decode tickets: %w", err)
	}
	var tickets []Ticket
	if err := json.Unmarshal(resp.Data, &tickets); err != nil {
		// A single message may be answered with a single ticket object.
		var one Ticket
		if len(msgs) != 1 || json.Unmarshal(resp.Data, &one) != nil {
			return nil, fmt.Errorf("decode tickets: %w", err)
		}
		tickets = []Ticket{one}
	}
	if len(tickets) != len(msgs) {
		return nil, fmt.Errorf("%w: %d tickets for %d messages", ErrTicketCount, len(tickets), len(msgs))
	}
	return tickets, nil
}

// GetReceipts fetches the receipts of ticket ids, in requests of at most 1000
// ids. Ids without a receipt yet are absent from the map. Reading receipts is
// idempotent, so failed requests are retried like sends.
func (c *Client) GetReceipts(ctx context.Context, ids []string) (map[string]Receipt, error) {
	out := make(map[string]Receipt, len(ids))
	for start := 0; start < len(ids); start += MaxReceiptIDsPerRequest {
		end := min(start+MaxReceiptIDsPerRequest, len(ids))
		body, err := json.Marshal(map[string][]string{"ids": ids[start:end]})
		if err != nil {
			return nil, fmt.Errorf("encode receipt ids: %w", err)
		}
		raw, err := c.post(ctx, ReceiptsPath, body, 0)
		if err != nil {
			return out, fmt.Errorf("get receipts %d..%d: %w", start, end-1, err)
		}
		var resp struct {
			Data map[string]Receipt `json:"data"`
		}
		if err := json.Unmarshal(raw, &resp); err != nil {
			return out, fmt.Errorf("decode receipts: %w", err)
		}
		for id, r := range resp.Data {
			out[id] = r
		}
	}
	return out, nil
}
