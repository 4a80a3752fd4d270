package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// client is an HTTP client keeping exactly as many connections to the
// system as the load has workers, so "64 connections" means 64 sockets.
type client struct {
	http   *http.Client
	base   string
	apiKey string
}

func newClient(s *system, conns int) *client {
	tr := &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &client{http: &http.Client{Transport: tr}, base: s.base, apiKey: s.apiKey}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// do sends one request and returns the body; a status other than want (any
// 2xx when want is 0) is an error carrying the start of the body (a
// problem+json detail).
func (c *client) do(ctx context.Context, method, path string, body []byte, want int, header map[string]string) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("X-API-Key", c.apiKey)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if ok := resp.StatusCode == want || (want == 0 && resp.StatusCode/100 == 2); !ok {
		return out, fmt.Errorf("%s %s: status %d: %.200s", method, path, resp.StatusCode, out)
	}
	return out, nil
}
