package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/live"
)

const liveJWTSecret = "live-e2e-jwt-secret-0123456789"

func liveToken(t *testing.T, user string) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"user_id": user, "token_type": "access", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(liveJWTSecret))
	require.NoError(t, err)
	return tok
}

// liveClient is one WebSocket or SSE subscriber; next returns its next
// message (control messages included).
type liveClient struct {
	next func(t *testing.T) live.Message
}

func liveWS(t *testing.T, base, path string, h http.Header) liveClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+path, &websocket.DialOptions{HTTPHeader: h})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.CloseNow() })
	return liveClient{next: func(t *testing.T) live.Message {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, b, err := c.Read(ctx)
		require.NoError(t, err)
		var m live.Message
		require.NoError(t, json.Unmarshal(b, &m))
		return m
	}}
}

func liveSSE(t *testing.T, base, path string) liveClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	msgs := make(chan live.Message, 64)
	go func() {
		defer close(msgs)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var m live.Message
				if json.Unmarshal([]byte(data), &m) == nil {
					msgs <- m
				}
			}
		}
	}()
	return liveClient{next: func(t *testing.T) live.Message {
		t.Helper()
		select {
		case m, ok := <-msgs:
			require.True(t, ok, "event stream ended")
			return m
		case <-time.After(30 * time.Second):
			t.Fatal("no event within 30s")
			return live.Message{}
		}
	}}
}

// expectPayment reads c's next two messages: awaiting_callback then paid,
// both of payment id and owned by customer.
func expectPayment(t *testing.T, c liveClient, name, id, customer string) {
	t.Helper()
	for _, want := range []string{"awaiting_callback", "paid"} {
		m := c.next(t)
		require.Equal(t, "payment."+want, m.Type, "%s: %+v", name, m)
		require.NotEmpty(t, m.ID)
		require.NotNil(t, m.At)
		var raw map[string]any
		require.NoError(t, json.Unmarshal(m.Data, &raw))
		require.Equal(t, id, raw["id"], name)
		require.Equal(t, customer, raw["customer_id"], "%s: another user's event", name)
		require.Equal(t, want, raw["status"], name)
	}
}

// A customer watching over WebSocket (API process A) and over SSE (API
// process B) sees its payment go awaiting_callback then paid, and never
// another customer's payment; both processes share the fan-out.
func TestLiveUpdatesEndToEnd(t *testing.T) {
	t.Parallel()
	getenv, base := testEnv(t, map[string]string{
		"FUNDIGO_JWT_SECRET":               liveJWTSecret,
		"FUNDIGO_MPESA_CALLBACK_TOKEN":     e2eCallbackToken,
		"FUNDIGO_MPESA_SIM_CALLBACK_DELAY": "300ms",
		"FUNDIGO_PAYMENTS_FINAL_DEADLINE":  "1h",
		"FUNDIGO_STREAM_HEARTBEAT":         "300ms",
		// Streams outlive the server's per-request timeouts.
		"FUNDIGO_HTTP_READ_TIMEOUT":  "1s",
		"FUNDIGO_HTTP_WRITE_TIMEOUT": "1s",
	})
	stop, logs := startAll(t, getenv, base)
	e := startPaymentsE2EOn(t, getenv, base, logs, stop)

	// A second API process over the same Redis, PostgreSQL and RabbitMQ.
	addrB, adminB := freeAddr(t), freeAddr(t)
	getenvB := func(k string) string {
		switch k {
		case "FUNDIGO_HTTP_ADDR":
			return addrB
		case "FUNDIGO_ADMIN_ADDR":
			return adminB
		}
		return getenv(k)
	}
	baseB := "http://" + addrB
	ctxB, cancelB := context.WithCancel(context.Background())
	doneB := make(chan error, 1)
	logsB := &lockedBuffer{}
	go func() { doneB <- run(ctxB, []string{"api"}, getenvB, logsB, logsB) }()
	t.Cleanup(func() { cancelB(); <-doneB })
	require.Eventually(t, func() bool {
		resp, err := http.Get(baseB + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 100*time.Millisecond, "api B not ready: %s", logsB.String())

	u1, u2 := "live-cust-1", "live-cust-2"
	wsA := liveWS(t, base, "/v1/stream", http.Header{"Authorization": {"Bearer " + liveToken(t, u1)}})
	sseB := liveSSE(t, baseB, "/v1/events?token="+liveToken(t, u1))
	wsB2 := liveWS(t, baseB, "/v1/stream", http.Header{"Authorization": {"Bearer " + liveToken(t, u2)}})
	// A service watches any user.
	svcA := liveWS(t, base, "/v1/stream?user="+u2, http.Header{"X-API-Key": {e2eKey}})
	for _, c := range []liveClient{wsA, sseB, wsB2, svcA} {
		require.Equal(t, live.TypeReady, c.next(t).Type)
	}

	create := func(customer string) string {
		code, p := e.call(t, http.MethodPost, "/v1/payments", map[string]any{
			"job_id": "job-" + customer, "customer_id": customer, "phone": "0708374149", "amount": 100,
		}, nil)
		require.Equal(t, http.StatusAccepted, code, "%v", p)
		return p["id"].(string)
	}
	p1 := create(u1)
	expectPayment(t, wsA, "u1 ws on A", p1, u1)
	expectPayment(t, sseB, "u1 sse on B", p1, u1)

	p2 := create(u2)
	expectPayment(t, wsB2, "u2 ws on B", p2, u2)
	expectPayment(t, svcA, "service watching u2 on A", p2, u2)

	// u1's clients got nothing of u2's: their next messages are u1's next payment.
	p3 := create(u1)
	expectPayment(t, wsA, "u1 ws on A", p3, u1)
	expectPayment(t, sseB, "u1 sse on B", p3, u1)
}
