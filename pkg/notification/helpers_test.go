package notification

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/expo"
	"fundigo/pkg/expo/exposim"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
)

// testClock is a settable clock shared by the worker and the test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *testClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

type bundle struct {
	p     *Pipeline
	sim   *exposim.Sim
	clock *testClock
}

type options struct {
	ratePerSecond int           // Expo ceiling; default 100000
	maxAttempts   int           // Expo client attempts; default 5
	serve         bool          // run an Asynq server with the handlers
	expoTimeout   time.Duration // per request
	sendLoop      bool          // PipelineConfig.SendLoop (start RunSender with runSender)
}

// nairobi is 23:00 in Africa/Nairobi (UTC+3) on a fixed day.
var nairobiNight = time.Date(2026, 3, 10, 20, 0, 0, 0, time.UTC)

func setup(t testing.TB, o options) bundle {
	t.Helper()
	if o.ratePerSecond == 0 {
		o.ratePerSecond = 100000
	}
	clock := &testClock{t: time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)}
	sim := exposim.New(exposim.Options{})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	lim, err := expo.NewRedisLimiter(taskstest.Redis(t), taskstest.Prefix(t)+"expo", o.ratePerSecond)
	require.NoError(t, err)
	ec, err := expo.NewClient(expo.Config{
		BaseURL: srv.URL, Limiter: lim, MaxAttempts: o.maxAttempts, Timeout: o.expoTimeout,
		InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	tpl, err := LoadTemplates()
	require.NoError(t, err)
	q := taskstest.Queues(t)
	p, err := NewPipeline(PipelineConfig{
		Log: zerolog.Nop(), Pool: storetest.NewPool(t), Tasks: taskstest.Client(t), Queues: q,
		Expo: ec, Templates: tpl, NowFunc: clock.Now, SendLoop: o.sendLoop,
	})
	require.NoError(t, err)
	if o.serve {
		taskstest.Serve(t, q, pushMux(p))
	}
	return bundle{p: p, sim: sim, clock: clock}
}

// pushMux runs the pipeline's tasks as workers/notifications does.
func pushMux(p *Pipeline) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(tasks.TypePushSend, func(ctx context.Context, t *asynq.Task) error {
		var payload tasks.PushSendPayload
		if err := json.Unmarshal(t.Payload(), &payload); err != nil {
			return tasks.Permanent(err)
		}
		return p.Send(ctx, payload.NotificationID)
	})
	mux.HandleFunc(tasks.TypePushReceipts, func(ctx context.Context, _ *asynq.Task) error {
		return p.CheckReceipts(ctx)
	})
	return mux
}

// addDevices registers n users u<from>..u<from+n-1> with one Expo device
// each; token(i) names the device.
func (b bundle) addDevices(t testing.TB, from, n int, locale string, token func(i int) string) {
	t.Helper()
	tokens := make([]string, n)
	users := make([]string, n)
	for i := range n {
		tokens[i], users[i] = token(from+i), userID(from+i)
	}
	_, err := b.p.cfg.Pool.Exec(t.Context(), `
		INSERT INTO devices (token, user_id, platform, locale)
		SELECT tok, uid, 'expo', $3 FROM unnest($1::text[], $2::text[]) AS u(tok, uid)`, tokens, users, locale)
	require.NoError(t, err)
}

func userID(i int) string { return fmt.Sprintf("u%05d", i) }

func users(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = userID(from + i)
	}
	return out
}

func expoToken(i int) string { return fmt.Sprintf("ExponentPushToken[tok%05d]", i) }

func (b bundle) counts(t *testing.T, id string) Counts {
	t.Helper()
	c, err := b.p.store.Counts(t.Context(), id)
	require.NoError(t, err)
	// The counts always add up.
	require.Equal(t, c.Devices, c.Queued+c.Deferred+c.AwaitingReceipt+c.Delivered+c.Failed+c.InvalidTokens+c.Muted, "%+v", c)
	return c
}

func (b bundle) status(t testing.TB, id string) string {
	t.Helper()
	n, err := b.p.store.Notification(t.Context(), id)
	require.NoError(t, err)
	return n.Status
}

// drain runs push:send for id until nothing is left to claim (no Asynq
// server needed).
func (b bundle) drain(t *testing.T, id string) {
	t.Helper()
	for range 1000 {
		n, err := b.p.store.PendingCount(t.Context(), id, b.clock.Now())
		require.NoError(t, err)
		if n == 0 {
			return
		}
		require.NoError(t, b.p.Send(t.Context(), id))
	}
	t.Fatal("drain did not finish")
}

func (b bundle) runReceipts(t *testing.T) {
	t.Helper()
	require.NoError(t, b.p.CheckReceipts(t.Context()))
}

// runSender runs the sender loop until Cleanup.
func (b bundle) runSender(t testing.TB, cfg SenderConfig) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.p.RunSender(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}
