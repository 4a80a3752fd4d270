package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
)

// One client-IP rule: without trusted proxies X-Forwarded-For is never
// believed; with them, the first untrusted hop from the right is the client,
// and private or loopback peers are not trusted unless listed.
func TestClientIPExtractor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, remote, xff, want string
		proxies                 []string
	}{
		{"no proxies: peer", "203.0.113.1:5000", "", "203.0.113.1", nil},
		{"no proxies: xff ignored", "203.0.113.1:5000", "196.201.214.200", "203.0.113.1", nil},
		{"no proxies: private peer's xff ignored too", "10.1.1.1:5000", "196.201.214.200", "10.1.1.1", nil},
		{"untrusted peer's xff ignored", "8.8.8.8:5000", "196.201.214.200", "8.8.8.8", []string{"10.0.0.0/8"}},
		{"via trusted proxy", "10.1.1.1:80", "196.201.212.69", "196.201.212.69", []string{"10.0.0.0/8"}},
		{"via two trusted proxies", "10.1.1.1:80", "196.201.214.7, 10.2.2.2", "196.201.214.7", []string{"10.0.0.0/8"}},
		{"client-supplied prefix ignored", "10.1.1.1:80", "196.201.214.7, 8.8.8.8", "8.8.8.8", []string{"10.0.0.0/8"}},
		{"garbage hop: the proxy", "10.1.1.1:80", "nonsense", "10.1.1.1", []string{"10.0.0.0/8"}},
		{"proxy without xff", "10.1.1.1:80", "", "10.1.1.1", []string{"10.0.0.0/8"}},
		{"private peer not listed", "192.168.1.5:80", "196.201.214.7", "192.168.1.5", []string{"10.0.0.0/8"}},
		{"loopback not trusted by default", "127.0.0.1:80", "196.201.214.7", "127.0.0.1", []string{"10.0.0.0/8"}},
		{"single address proxy", "172.20.0.3:80", "41.90.1.2", "41.90.1.2", []string{"172.20.0.3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			ipx, err := clientIPExtractor(tt.proxies)
			require.NoError(t, err)
			require.Equal(t, tt.want, ipx(r))
		})
	}
}

// The server uses that rule for c.RealIP(): a spoofed X-Forwarded-For does
// not move a client to a fresh anonymous budget.
func TestSpoofedForwardedForDoesNotEscapeTheThrottle(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(d *Deps) { d.Config.Throttle.Anon = config.Rate{N: 2, Period: time.Hour} })
	wrong := func(xff string) map[string]string {
		return map[string]string{"X-API-Key": "no", "X-Forwarded-For": xff}
	}
	require.Equal(t, http.StatusUnauthorized, s.doFrom(t, "203.0.113.20:1", http.MethodGet, "/v1/tasks/x", nil, wrong("1.1.1.1")).Code)
	require.Equal(t, http.StatusUnauthorized, s.doFrom(t, "203.0.113.20:1", http.MethodGet, "/v1/tasks/x", nil, wrong("2.2.2.2")).Code)
	require429(t, s.doFrom(t, "203.0.113.20:1", http.MethodGet, "/v1/tasks/x", nil, wrong("3.3.3.3")))

	p := newTestServer(t, func(d *Deps) {
		d.Config.Throttle.Anon = config.Rate{N: 1, Period: time.Hour}
		d.Config.HTTP.TrustedProxies = []string{"10.0.0.0/8"}
	})
	require.Equal(t, http.StatusUnauthorized, p.doFrom(t, "10.0.0.2:1", http.MethodGet, "/v1/tasks/x", nil, wrong("41.1.1.1")).Code)
	require.Equal(t, http.StatusUnauthorized, p.doFrom(t, "10.0.0.2:1", http.MethodGet, "/v1/tasks/x", nil, wrong("41.1.1.2")).Code,
		"behind a trusted proxy, each forwarded client has its own budget")
	require429(t, p.doFrom(t, "10.0.0.3:1", http.MethodGet, "/v1/tasks/x", nil, wrong("9.9.9.9, 41.1.1.1")))
}

func TestSourceFilter(t *testing.T) {
	t.Parallel()
	f, err := newSourceFilter([]string{"196.201.214.0/24", "196.201.212.69"})
	require.NoError(t, err)
	require.True(t, f.allowed("196.201.214.200"))
	require.True(t, f.listed("196.201.212.69"))
	require.False(t, f.allowed("8.8.8.8"))
	require.False(t, f.allowed("nonsense"))
	open, err := newSourceFilter(nil)
	require.NoError(t, err)
	require.True(t, open.allowed("8.8.8.8"), "no allowlist allows everyone")
	require.False(t, open.listed("8.8.8.8"), "but lists no one")
}

func callbackBody(t *testing.T, checkout string) []byte {
	t.Helper()
	body, err := os.ReadFile("../pkg/mpesa/testdata/success.json")
	require.NoError(t, err)
	return []byte(strings.Replace(string(body), "ws_CO_191220191020363925", checkout, 1))
}

// The webhook is not anonymous traffic: at the defaults a burst of 5,000
// callbacks from one source is never throttled (Safaricom does not retry a
// refused callback).
func TestWebhookBurstFromOneSourceIsNeverThrottled(t *testing.T) {
	t.Parallel()
	s := webhookServer(t)
	const total = 5000
	var next, ok atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				r := s.doFrom(t, "196.201.214.200:443", http.MethodPost, "/v1/webhooks/daraja/stk/"+webhookToken,
					callbackBody(t, fmt.Sprintf("ws_CO_burst_%d", i)), nil)
				if r.Code != http.StatusOK {
					t.Errorf("callback %d: %d %s", i, r.Code, r.Body)
					return
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, total, ok.Load())
	var n int
	require.NoError(t, s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM inbox`).Scan(&n))
	require.Equal(t, total, n)
}

// Past its per-source budget a source gets 429; another source, and any
// allowlisted Safaricom source, are unaffected.
func TestWebhookPerSourceLimitAndAllowlist(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(d *Deps) {
		d.Config.Payments.CallbackToken = webhookToken
		d.Config.Throttle.Webhook = config.Rate{N: 3, Period: time.Hour}
	})
	post := func(remote string, i int) testResponse {
		return s.doFrom(t, remote, http.MethodPost, "/v1/webhooks/mpesa/stk/"+webhookToken,
			callbackBody(t, fmt.Sprintf("ws_CO_src_%s_%d", strings.NewReplacer(".", "_", ":", "_").Replace(remote), i)), nil)
	}
	for i := 0; i < 3; i++ {
		require.Equal(t, http.StatusOK, post("198.51.100.1:1", i).Code)
	}
	require429(t, post("198.51.100.1:1", 3))
	require.Equal(t, http.StatusOK, post("198.51.100.2:1", 0).Code)

	listed := newTestServer(t, func(d *Deps) {
		d.Config.Payments.CallbackToken = webhookToken
		d.Config.Payments.AllowedCIDRs = []string{"196.201.214.0/24"}
		d.Config.Throttle.Webhook = config.Rate{N: 1, Period: time.Hour}
	})
	for i := 0; i < 10; i++ {
		r := listed.doFrom(t, "196.201.214.9:1", http.MethodPost, "/v1/webhooks/mpesa/stk/"+webhookToken,
			callbackBody(t, fmt.Sprintf("ws_CO_listed_%d", i)), nil)
		require.Equal(t, http.StatusOK, r.Code, "allowlisted sources are exempt")
	}
	r := listed.doFrom(t, "8.8.8.8:1", http.MethodPost, "/v1/webhooks/mpesa/stk/"+webhookToken, callbackBody(t, "ws_CO_x"), nil)
	require.Equal(t, http.StatusForbidden, r.Code)
}

// A wrong webhook token is a failed authentication: it spends the source's
// anonymous budget (404, then 429); valid callbacks are never charged to it.
func TestWebhookWrongTokenCountsAsFailedAuth(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(d *Deps) {
		d.Config.Payments.CallbackToken = webhookToken
		d.Config.Throttle.Anon = config.Rate{N: 5, Period: time.Hour}
	})
	for i := 0; i < 20; i++ {
		r := s.doFrom(t, "198.51.100.3:1", http.MethodPost, "/v1/webhooks/mpesa/stk/"+webhookToken,
			callbackBody(t, fmt.Sprintf("ws_CO_good_%d", i)), nil)
		require.Equal(t, http.StatusOK, r.Code, "webhooks are exempt from anon")
	}
	for i := 0; i < 5; i++ {
		r := s.doFrom(t, "198.51.100.4:1", http.MethodPost, "/v1/webhooks/mpesa/stk/guess-"+fmt.Sprint(i), callbackBody(t, "ws_CO_g"), nil)
		require.Equal(t, http.StatusNotFound, r.Code)
	}
	r := s.doFrom(t, "198.51.100.4:1", http.MethodPost, "/v1/webhooks/daraja/stk/guess-x", callbackBody(t, "ws_CO_g"), nil)
	require429(t, r)
	require.NotContains(t, string(r.Body), "guess-x")
}
