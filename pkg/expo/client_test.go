package expo_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/expo"
	"fundigo/pkg/expo/exposim"
)

type bundle struct {
	sim    *exposim.Sim
	srv    *httptest.Server
	client *expo.Client
}

// setup starts a simulator and a client with fast retries. wrap, when set,
// decorates the simulator's handler.
func setup(t *testing.T, cfg expo.Config, wrap func(http.Handler) http.Handler) bundle {
	t.Helper()
	sim := exposim.New(exposim.Options{})
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff = 5 * time.Millisecond
		cfg.MaxBackoff = 20 * time.Millisecond
	}
	c, err := expo.NewClient(cfg)
	require.NoError(t, err)
	return bundle{sim: sim, srv: srv, client: c}
}

func messages(n int, token func(i int) string) []expo.Message {
	out := make([]expo.Message, n)
	for i := range out {
		out[i] = expo.Message{To: token(i), Title: "Hello", Body: fmt.Sprintf("message %d", i)}
	}
	return out
}

func tok(i int) string { return fmt.Sprintf("ExponentPushToken[tok%05d]", i) }

func TestSendChunksAndKeepsOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, expo.Config{}, nil)
	// Every 7th recipient is a dead token: its ticket must land at its index.
	msgs := messages(250, func(i int) string {
		if i%7 == 0 {
			return fmt.Sprintf("ExponentPushToken[Invalid%05d]", i)
		}
		return tok(i)
	})
	tickets, err := b.client.Send(t.Context(), msgs)
	require.NoError(t, err)
	require.Len(t, tickets, 250)
	for i, tk := range tickets {
		if i%7 == 0 {
			require.ErrorIs(t, tk.Err(), expo.ErrDeviceNotRegistered, "index %d", i)
			require.Equal(t, msgs[i].To, tk.Details.ExpoPushToken)
		} else {
			require.NoError(t, tk.Err(), "index %d", i)
			require.NotEmpty(t, tk.ID)
		}
	}
	st := b.sim.Stats()
	require.ElementsMatch(t, []int{100, 100, 50}, st.RequestSizes)
	require.Equal(t, 250, st.Messages)
	require.Equal(t, 3, st.Gzipped, "bodies over 1 KiB are gzipped")
	for i := range msgs {
		require.Equal(t, 1, st.PerToken[msgs[i].To])
	}
}

func TestSendSmallBodyNotGzipped(t *testing.T) {
	t.Parallel()
	b := setup(t, expo.Config{}, nil)
	_, err := b.client.Send(t.Context(), messages(1, tok))
	require.NoError(t, err)
	st := b.sim.Stats()
	require.Equal(t, 1, st.SendRequests)
	require.Zero(t, st.Gzipped)
}

func TestSendRetries429HonouringRetryAfter(t *testing.T) {
	t.Parallel()
	var waits []time.Duration
	b := setup(t, expo.Config{RetryNotifyFunc: func(_ error, d time.Duration) { waits = append(waits, d) }}, nil)
	b.sim.FailNext(2, http.StatusTooManyRequests, time.Second)
	tickets, err := b.client.Send(t.Context(), messages(3, tok))
	require.NoError(t, err)
	require.Len(t, tickets, 3)
	st := b.sim.Stats()
	require.Equal(t, 2, st.Rejected)
	require.Equal(t, 3, st.Messages)
	require.Len(t, waits, 2)
	for _, w := range waits {
		// The backoff alone would wait 5-20 ms; Retry-After says 1 s.
		require.GreaterOrEqual(t, w, time.Second)
	}
}

func TestSendRetries5xx(t *testing.T) {
	t.Parallel()
	b := setup(t, expo.Config{}, nil)
	b.sim.FailNext(2, http.StatusBadGateway, 0)
	_, err := b.client.Send(t.Context(), messages(5, tok))
	require.NoError(t, err)
	require.Equal(t, 2, b.sim.Stats().Rejected)
	require.Equal(t, 5, b.sim.Stats().Messages)
}

func TestSendDoesNotRetry400(t *testing.T) {
	t.Parallel()
	b := setup(t, expo.Config{}, nil)
	b.sim.FailNext(1, http.StatusBadRequest, 0)
	tickets, err := b.client.Send(t.Context(), messages(5, tok))
	require.Error(t, err)
	var re *expo.RequestError
	require.ErrorAs(t, err, &re)
	require.Equal(t, http.StatusBadRequest, re.StatusCode)
	require.False(t, expo.IsTemporary(err))
	var ce *expo.ChunkError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, 0, ce.Start)
	require.Equal(t, 5, ce.End)
	require.Empty(t, tickets[0].Status)
	st := b.sim.Stats()
	require.Equal(t, 1, st.Rejected)
	require.Zero(t, st.Messages, "a 400 is not retried")
}

func TestSendGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t, expo.Config{MaxAttempts: 3}, nil)
	b.sim.FailNext(10, http.StatusServiceUnavailable, 0)
	_, err := b.client.Send(t.Context(), messages(2, tok))
	require.Error(t, err)
	require.True(t, expo.IsTemporary(err), "messages refused with 503 may be sent later")
	require.Equal(t, 3, b.sim.Stats().Rejected)
}

func TestSendRetriesNetworkErrors(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	b := setup(t, expo.Config{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				// Drop the connection without an answer.
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					_ = conn.Close()
				}
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	_, err := b.client.Send(t.Context(), messages(2, tok))
	require.NoError(t, err)
	require.Equal(t, int32(2), calls.Load())
	require.Equal(t, 2, b.sim.Stats().Messages)
}

func TestSendRejectsInvalidMessagesBeforeSending(t *testing.T) {
	t.Parallel()
	b := setup(t, expo.Config{}, nil)
	msgs := messages(3, tok)
	msgs[1].Data = map[string]any{"x": strings.Repeat("z", 5000)}
	_, err := b.client.Send(t.Context(), msgs)
	require.ErrorIs(t, err, expo.ErrPayloadTooLarge)
	msgs = messages(3, tok)
	msgs[2].To = "not-a-token"
	_, err = b.client.Send(t.Context(), msgs)
	require.ErrorIs(t, err, expo.ErrInvalidToken)
	require.Zero(t, b.sim.Stats().SendRequests+b.sim.Stats().Rejected)
}

func TestSendTicketCountMismatch(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":[{"status":"ok","id":"a"}]}`))
	}))
	t.Cleanup(srv.Close)
	c, err := expo.NewClient(expo.Config{BaseURL: srv.URL})
	require.NoError(t, err)
	_, err = c.Send(t.Context(), messages(2, tok))
	require.ErrorIs(t, err, expo.ErrTicketCount)
	require.False(t, expo.IsTemporary(err), "an unmatched answer must not be resent")
}

func TestSendBoundsConcurrency(t *testing.T) {
	t.Parallel()
	var inFlight, peak atomic.Int32
	b := setup(t, expo.Config{MaxConcurrent: 3}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := inFlight.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			defer inFlight.Add(-1)
			h.ServeHTTP(w, r)
		})
	})
	b.sim.SetDelay(30 * time.Millisecond)
	_, err := b.client.Send(t.Context(), messages(1000, tok))
	require.NoError(t, err)
	require.Equal(t, 10, b.sim.Stats().SendRequests)
	require.LessOrEqual(t, peak.Load(), int32(3))
	require.Greater(t, peak.Load(), int32(1), "chunks go out concurrently")
}

func TestSendStopsOnContextCancel(t *testing.T) {
	t.Parallel()
	b := setup(t, expo.Config{}, nil)
	b.sim.SetDelay(time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := b.client.Send(ctx, messages(1, tok))
	require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
}

func TestGetReceipts(t *testing.T) {
	t.Parallel()
	b := setup(t, expo.Config{}, nil)
	msgs := messages(1500, func(i int) string {
		if i%10 == 0 {
			return fmt.Sprintf("ExponentPushToken[InvalidLater%05d]", i)
		}
		return tok(i)
	})
	tickets, err := b.client.Send(t.Context(), msgs)
	require.NoError(t, err)
	ids := make([]string, 0, len(tickets)+1)
	for _, tk := range tickets {
		require.NoError(t, tk.Err(), "InvalidLater tokens get ok tickets")
		ids = append(ids, tk.ID)
	}
	ids = append(ids, "unknown-id")
	receipts, err := b.client.GetReceipts(t.Context(), ids)
	require.NoError(t, err)
	require.Len(t, receipts, 1500, "ids without a receipt are left out")
	for i, tk := range tickets {
		if i%10 == 0 {
			require.ErrorIs(t, receipts[tk.ID].Err(), expo.ErrDeviceNotRegistered)
		} else {
			require.NoError(t, receipts[tk.ID].Err())
		}
	}
	st := b.sim.Stats()
	require.Equal(t, 2, st.ReceiptRequests, "1501 ids need two requests of at most 1000")
	require.Equal(t, 1501, st.ReceiptIDs)
}
