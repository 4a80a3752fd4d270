package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/live"
)

// streamEnv is an API server with a running live hub, served over a real
// listener (WebSocket and SSE need one).
type streamEnv struct {
	url     string // http://127.0.0.1:port
	streams *live.Streams
	stopHub context.CancelFunc
}

func newStreamEnv(t *testing.T, cfg live.Config) *streamEnv {
	t.Helper()
	var env streamEnv
	ts := newTestServer(t, func(d *Deps) {
		streams, err := live.NewStreams(d.Redis, d.Config.Redis.KeyPrefix, cfg)
		require.NoError(t, err)
		hub := live.NewHub(streams, zerolog.Nop(), nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = hub.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		d.Live, env.streams, env.stopHub = hub, streams, cancel
	})
	srv := httptest.NewServer(ts.e)
	t.Cleanup(srv.Close)
	env.url = srv.URL
	return &env
}

func bearer(t *testing.T, user string) string {
	return userToken(t, jwt.MapClaims{"user_id": user})
}

// appendEvent appends one event for owner and returns its stream id.
func (e *streamEnv) appendEvent(t *testing.T, owner string, n int) string {
	t.Helper()
	id, dup, err := e.streams.Append(context.Background(), live.Event{
		Owner: owner, Type: "payment.paid", MessageID: fmt.Sprintf("m%d:%s", n, owner), At: time.Now(),
		Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"customer_id":%q}`, n, owner)),
	})
	require.NoError(t, err)
	require.False(t, dup)
	return id
}

func dialWS(t *testing.T, url string, h http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), &websocket.DialOptions{HTTPHeader: h})
	if c != nil {
		c.SetReadLimit(1 << 20)
		t.Cleanup(func() { _ = c.CloseNow() })
	}
	if resp != nil && resp.Body != nil {
		t.Cleanup(func() { _ = resp.Body.Close() })
	}
	return c, resp, err
}

func readWS(t *testing.T, c *websocket.Conn) live.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	require.NoError(t, err)
	var m live.Message
	require.NoError(t, json.Unmarshal(b, &m), "%s", b)
	return m
}

// sseClient reads one event stream.
type sseClient struct {
	resp *http.Response
	sc   *bufio.Scanner
}

type sseEvent struct {
	event, id string
	msg       live.Message
}

func dialSSE(t *testing.T, url string, h http.Header) (*sseClient, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		return nil, resp
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	return &sseClient{resp: resp, sc: sc}, resp
}

// next returns the next event (comments and the retry line skipped).
func (s *sseClient) next(t *testing.T) sseEvent {
	t.Helper()
	var ev sseEvent
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "":
			if ev.event != "" || ev.id != "" || len(ev.msg.Type) > 0 {
				return ev
			}
		case strings.HasPrefix(line, "event: "):
			ev.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.msg))
		}
	}
	t.Fatalf("event stream ended: %v", s.sc.Err())
	return ev
}

func requireProblem(t *testing.T, resp *http.Response, status int) {
	t.Helper()
	require.NotNil(t, resp)
	require.Equal(t, status, resp.StatusCode)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p Problem
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	require.Equal(t, status, p.Status)
}

func TestStreamAuthFailuresAreProblems(t *testing.T) {
	t.Parallel()
	env := newStreamEnv(t, live.Config{})
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	cases := []struct {
		name   string
		path   string
		h      http.Header
		status int
	}{
		{"sse no credential", "/v1/events", nil, http.StatusUnauthorized},
		{"sse bad token", "/v1/events", hdr("Authorization", "Bearer not-a-jwt"), http.StatusUnauthorized},
		{"sse bad query token", "/v1/events?token=not-a-jwt", nil, http.StatusUnauthorized},
		{"sse bad service key", "/v1/events?user=u1", hdr("X-API-Key", "wrong-key-0123456789"), http.StatusUnauthorized},
		{"sse other user's topic", "/v1/events?user=u2", hdr("Authorization", bearer(t, "u1")), http.StatusForbidden},
		{"sse service without user", "/v1/events", hdr("X-API-Key", testKey), http.StatusUnprocessableEntity},
		{"sse bad resume id", "/v1/events?resume=abc", hdr("Authorization", bearer(t, "u1")), http.StatusBadRequest},
		{"ws bad token", "/v1/stream", hdr("Authorization", "Bearer not-a-jwt"), http.StatusUnauthorized},
		{"ws bad query token", "/v1/stream?token=x.y.z", nil, http.StatusUnauthorized},
		{"ws other user's topic", "/v1/stream?user=u2", hdr("Authorization", bearer(t, "u1")), http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if strings.HasPrefix(tc.path, "/v1/stream") {
				c, resp, err := dialWS(t, env.url+tc.path, tc.h)
				require.Error(t, err)
				require.Nil(t, c)
				requireProblem(t, resp, tc.status)
				return
			}
			_, resp := dialSSE(t, env.url+tc.path, tc.h)
			requireProblem(t, resp, tc.status)
		})
	}
}

// A browser WebSocket authenticates with its first message; a bad one is
// closed with 1008, a good one gets its own events.
func TestStreamFirstMessageAuth(t *testing.T) {
	t.Parallel()
	env := newStreamEnv(t, live.Config{})
	ctx := context.Background()

	bad, _, err := dialWS(t, env.url+"/v1/stream", nil)
	require.NoError(t, err)
	require.NoError(t, bad.Write(ctx, websocket.MessageText, []byte(`{"token":"nope"}`)))
	_, _, err = bad.Read(ctx)
	require.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err), "%v", err)

	other, _, err := dialWS(t, env.url+"/v1/stream", nil)
	require.NoError(t, err)
	tok := strings.TrimPrefix(bearer(t, "fm1"), "Bearer ")
	require.NoError(t, other.Write(ctx, websocket.MessageText, []byte(`{"token":"`+tok+`","user":"fm2"}`)))
	_, _, err = other.Read(ctx)
	require.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err), "%v", err)

	good, _, err := dialWS(t, env.url+"/v1/stream", nil)
	require.NoError(t, err)
	require.NoError(t, good.Write(ctx, websocket.MessageText, []byte(`{"token":"`+tok+`"}`)))
	require.Equal(t, live.TypeReady, readWS(t, good).Type)
	id := env.appendEvent(t, "fm1", 1)
	m := readWS(t, good)
	require.Equal(t, id, m.ID)
	require.Equal(t, "payment.paid", m.Type)
}

// Disconnect, three events happen, reconnect with the last id: exactly those
// three arrive, then live ones, over WebSocket and over SSE.
func TestStreamResumeDeliversExactlyTheMissed(t *testing.T) {
	t.Parallel()
	env := newStreamEnv(t, live.Config{})
	for _, transport := range []string{"ws", "sse"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			user := "resume-" + transport
			h := http.Header{"Authorization": {bearer(t, user)}}
			var last string
			if transport == "ws" {
				c, _, err := dialWS(t, env.url+"/v1/stream", h)
				require.NoError(t, err)
				require.Equal(t, live.TypeReady, readWS(t, c).Type)
				env.appendEvent(t, user, 0)
				m := readWS(t, c)
				require.Equal(t, "payment.paid", m.Type)
				last = m.ID
				require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
			} else {
				s, _ := dialSSE(t, env.url+"/v1/events", h)
				require.Equal(t, live.TypeReady, s.next(t).event)
				env.appendEvent(t, user, 0)
				ev := s.next(t)
				require.Empty(t, ev.event, "a domain event is the default message event")
				last = ev.id
				require.NoError(t, s.resp.Body.Close())
			}

			missed := []string{env.appendEvent(t, user, 1), env.appendEvent(t, user, 2), env.appendEvent(t, user, 3)}
			env.appendEvent(t, "someone-else-"+transport, 9)

			var got []string
			if transport == "ws" {
				c, _, err := dialWS(t, env.url+"/v1/stream?resume="+last, h)
				require.NoError(t, err)
				ready := readWS(t, c)
				require.Equal(t, live.TypeReady, ready.Type)
				require.Equal(t, last, ready.ID)
				for range 3 {
					got = append(got, readWS(t, c).ID)
				}
				live4 := env.appendEvent(t, user, 4)
				m := readWS(t, c)
				require.Equal(t, live4, m.ID, "then live, with no duplicate of the replay")
			} else {
				h2 := h.Clone()
				h2.Set("Last-Event-ID", last)
				s, _ := dialSSE(t, env.url+"/v1/events", h2)
				ready := s.next(t)
				require.Equal(t, live.TypeReady, ready.event)
				require.Equal(t, last, ready.id)
				for range 3 {
					ev := s.next(t)
					require.Equal(t, ev.id, ev.msg.ID)
					got = append(got, ev.id)
				}
				live4 := env.appendEvent(t, user, 4)
				require.Equal(t, live4, s.next(t).id, "then live, with no duplicate of the replay")
			}
			require.Equal(t, missed, got)
		})
	}
}

// A resume id beyond the retention window gets a refetch, then ready.
func TestStreamResumeBeyondWindowRefetches(t *testing.T) {
	t.Parallel()
	env := newStreamEnv(t, live.Config{Retention: time.Minute})
	env.appendEvent(t, "old", 1)
	old := fmt.Sprintf("%d-0", time.Now().Add(-2*time.Minute).UnixMilli())
	c, _, err := dialWS(t, env.url+"/v1/stream?resume="+old, http.Header{"Authorization": {bearer(t, "old")}})
	require.NoError(t, err)
	m := readWS(t, c)
	require.Equal(t, live.TypeRefetch, m.Type)
	require.Contains(t, m.Reason, "retention")
	require.Equal(t, live.TypeReady, readWS(t, c).Type)
}

// A client that stops reading is dropped with a reason, while the fan-out
// carries on for the others.
func TestStreamSlowConsumerIsDropped(t *testing.T) {
	t.Parallel()
	env := newStreamEnv(t, live.Config{SendBuffer: 2, MaxLen: 10000})
	slow, _, err := dialWS(t, env.url+"/v1/stream", http.Header{"Authorization": {bearer(t, "slow")}})
	require.NoError(t, err)
	require.Equal(t, live.TypeReady, readWS(t, slow).Type)
	other, _, err := dialWS(t, env.url+"/v1/stream", http.Header{"Authorization": {bearer(t, "not-slow")}})
	require.NoError(t, err)
	require.Equal(t, live.TypeReady, readWS(t, other).Type)

	// More data than the socket buffers of a client that does not read hold.
	pad := strings.Repeat("x", 32<<10)
	for i := range 600 {
		_, _, err := env.streams.Append(context.Background(), live.Event{
			Owner: "slow", Type: "payment.paid", At: time.Now(),
			Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"pad":%q}`, i, pad)),
		})
		require.NoError(t, err)
	}
	id := env.appendEvent(t, "not-slow", 1)
	require.Equal(t, id, readWS(t, other).ID, "the other client still gets its events")

	// The slow client reads what was buffered, then the close frame.
	n := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, _, err := slow.Read(ctx)
		cancel()
		if err != nil {
			require.Equal(t, websocket.StatusTryAgainLater, websocket.CloseStatus(err), "%v", err)
			require.Contains(t, err.Error(), "slow consumer")
			break
		}
		n++
	}
	require.Less(t, n, 600, "dropped before every message was delivered")
}

// The hub stopping (shutdown) tells WebSocket clients 1012 and SSE clients
// event: reconnect.
func TestStreamShutdownTellsClientsToReconnect(t *testing.T) {
	t.Parallel()
	env := newStreamEnv(t, live.Config{})
	h := http.Header{"Authorization": {bearer(t, "bye")}}
	c, _, err := dialWS(t, env.url+"/v1/stream", h)
	require.NoError(t, err)
	require.Equal(t, live.TypeReady, readWS(t, c).Type)
	s, _ := dialSSE(t, env.url+"/v1/events", h)
	require.Equal(t, live.TypeReady, s.next(t).event)

	env.stopHub()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err = c.Read(ctx)
	require.Equal(t, websocket.StatusServiceRestart, websocket.CloseStatus(err), "%v", err)
	require.Equal(t, live.TypeReconnect, s.next(t).event)
}

// Caps: a second connection of a user over MaxPerUser is a 429 problem.
func TestStreamPerUserCap(t *testing.T) {
	t.Parallel()
	env := newStreamEnv(t, live.Config{MaxPerUser: 1})
	h := http.Header{"Authorization": {bearer(t, "capped")}}
	c, _, err := dialWS(t, env.url+"/v1/stream", h)
	require.NoError(t, err)
	require.Equal(t, live.TypeReady, readWS(t, c).Type)
	_, resp := dialSSE(t, env.url+"/v1/events", h)
	requireProblem(t, resp, http.StatusTooManyRequests)
}
