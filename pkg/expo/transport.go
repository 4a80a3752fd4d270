package expo

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// gzipThreshold is the body size above which requests are compressed (as the
// official Node SDK does).
const gzipThreshold = 1024

// maxResponseBytes caps how much of an answer is read.
const maxResponseBytes = 16 << 20

// post sends body to path with retries and returns the body of a 200 answer.
// n messages are admitted by the limiter before every attempt.
func (c *Client) post(ctx context.Context, path string, body []byte, n int) ([]byte, error) {
	payload, gzipped, err := encodeBody(body)
	if err != nil {
		return nil, err
	}
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = c.cfg.InitialBackoff
	bo.MaxInterval = c.cfg.MaxBackoff
	bo.Multiplier = 2
	opts := []backoff.RetryOption{
		backoff.WithBackOff(bo),
		backoff.WithMaxTries(uint(c.cfg.MaxAttempts)),
		backoff.WithMaxElapsedTime(c.cfg.MaxElapsed),
	}
	if c.cfg.RetryNotifyFunc != nil {
		opts = append(opts, backoff.WithNotify(c.cfg.RetryNotifyFunc))
	}
	return backoff.Retry(ctx, func() ([]byte, error) {
		return c.attempt(ctx, path, payload, gzipped, n)
	}, opts...)
}

// gzipWriters reuses compressors: a gzip.Writer holds about a megabyte of
// state, which one per request turned into most of the sender's garbage.
// BestSpeed: a request is ~100 small, similar messages, which compress
// well at any level, and the CPU is the sender's.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) // a valid level: no error
	return zw
}}

func encodeBody(body []byte) ([]byte, bool, error) {
	if len(body) <= gzipThreshold {
		return body, false, nil
	}
	var buf bytes.Buffer
	buf.Grow(len(body) / 4)
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	if _, err := zw.Write(body); err != nil {
		return nil, false, fmt.Errorf("gzip body: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, false, fmt.Errorf("gzip body: %w", err)
	}
	return buf.Bytes(), true, nil
}

// attempt makes one request. Its error is classified for backoff.Retry:
// permanent for answers a retry cannot change, a RetryAfterError alongside
// the cause when the server said when to come back.
func (c *Client) attempt(ctx context.Context, path string, payload []byte, gzipped bool, n int) ([]byte, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, backoff.Permanent(&notSentError{ctx.Err()})
	}
	defer func() { <-c.sem }()

	if n > 0 && c.cfg.Limiter != nil {
		if err := c.cfg.Limiter.Wait(ctx, n); err != nil {
			if ctx.Err() != nil {
				return nil, backoff.Permanent(&notSentError{err})
			}
			return nil, err
		}
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.cfg.BaseURL+path, bytes.NewReader(payload))
	if err != nil {
		return nil, backoff.Permanent(fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if c.cfg.AccessToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.AccessToken)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, backoff.Permanent(ctx.Err())
		}
		return nil, &networkError{err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		if ctx.Err() != nil {
			return nil, backoff.Permanent(ctx.Err())
		}
		return nil, &networkError{fmt.Errorf("read answer: %w", err)}
	}
	if resp.StatusCode == http.StatusOK {
		return raw, nil
	}
	reqErr := requestError(resp, raw)
	if !reqErr.Temporary() {
		return nil, backoff.Permanent(reqErr)
	}
	if reqErr.RetryAfter > 0 {
		// Spread the clients the server turned away at once over an extra
		// 0-10% so they do not all come back in the same instant.
		wait := reqErr.RetryAfter + rand.N(reqErr.RetryAfter/10+1)
		return nil, errors.Join(reqErr, &backoff.RetryAfterError{Duration: wait})
	}
	return nil, reqErr
}

func requestError(resp *http.Response, raw []byte) *RequestError {
	e := &RequestError{StatusCode: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(raw, &body) == nil && len(body.Errors) > 0 {
		e.Code, e.Message = body.Errors[0].Code, body.Errors[0].Message
	} else {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// parseRetryAfter reads delay-seconds or an HTTP date; zero when absent or
// unparseable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
