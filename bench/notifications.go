package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	kit "fundigo/pkg/bench"
	"fundigo/pkg/config"
)

// benchNotifications measures fan-out to the push provider: it registers
// --users Expo devices, then each operation asks for one notification to
// --fanout of those users (POST /v1/notifications, 202). Two figures: the
// API's accept rate, and the delivery rate — messages the push simulator
// accepted, from the first request of the phase until the last expected
// message arrived. The in-process system's Expo rate limit is --expo-rate
// (Expo's real project limit is 600/s; see docs/CAPACITY.md). A third,
// the push path alone without intake, comes from pushPath.
func benchNotifications(ctx context.Context, b *benchRun) error {
	if b.flags.Baselines {
		if err := b.pgBaseline(ctx); err != nil {
			return err
		}
	}
	s, err := b.system(ctx, func(c *config.Config) { c.Notifications.ExpoRatePerSecond = b.flags.ExpoRate })
	if err != nil {
		return err
	}
	defer s.stop()
	for _, r := range []string{"/v1/devices", "/v1/notifications"} {
		if !s.hasRoute(http.MethodPost, r) {
			return errors.New("notifications scenario: POST " + r + " is not registered (notifications domain missing from api/routes.go)")
		}
	}
	delivered, err := b.pushCounter(s)
	if err != nil {
		return err
	}
	c := newClient(s, b.flags.Opts.Concurrency)
	defer c.close()

	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	users := make([]string, b.flags.Users)
	for i := range users {
		users[i] = "bench-" + run + "-" + strconv.Itoa(i)
	}
	if err := registerDevices(ctx, b, c, users); err != nil {
		return err
	}
	fanout := min(b.flags.Fanout, len(users))
	var next atomic.Int64
	request := func() []byte {
		start := int(next.Add(int64(fanout))-int64(fanout)) % len(users)
		ids := make([]string, fanout)
		for i := range ids {
			ids[i] = users[(start+i)%len(users)]
		}
		body, _ := json.Marshal(map[string]any{"user_ids": ids, "title": "Fundi on the way", "body": "Your fundi arrives in 20 minutes."})
		return body
	}
	notify := func(ctx context.Context) error {
		_, err := c.do(ctx, http.MethodPost, "/v1/notifications", request(), http.StatusAccepted, nil)
		return err
	}

	// Warm up by hand and wait for it to drain, so the delivery count of the
	// measured phase starts from a quiet system.
	if _, err := kit.Run(ctx, "warmup", kit.Options{Concurrency: b.flags.Opts.Concurrency, Count: 20}, notify); err != nil {
		return err
	}
	if _, err := waitDelivered(ctx, delivered, 20*fanout, 0); err != nil {
		return fmt.Errorf("warmup: %w", err)
	}
	before, err := delivered(ctx)
	if err != nil {
		return err
	}
	saved := b.flags.Opts.Warmup
	b.flags.Opts.Warmup = 0
	cpu := kit.StartCPU()
	start := time.Now()
	accept, err := b.measure(ctx, "notifications.api_accept", "request of "+strconv.Itoa(fanout)+" users", "baseline.pg_commit", nil, notify)
	b.flags.Opts.Warmup = saved
	if err != nil {
		return err
	}
	want := int(accept.Ops) * fanout
	got, err := waitDelivered(ctx, delivered, want, before)
	res := kit.Timed("notifications.push_delivered", int64(got), time.Since(start))
	cpu.Stop(&res)
	res.Unit = "push message"
	res.Note = fmt.Sprintf("%d of %d messages reached the push simulator; Expo rate limit set to %d/s", got, want, b.flags.ExpoRate)
	b.add(res, "baseline.pg_commit", &kit.Target{MinRate: 20000})
	if err != nil {
		return err
	}
	return pushPath(ctx, b, s, users, fanout)
}

// pushCounter returns a function counting the messages the push simulator
// accepted so far: the in-process simulator's stats, or --push-sim-url's
// /_sim/stats for a target.
func (b *benchRun) pushCounter(s *system) (func(context.Context) (int, error), error) {
	if s.in != nil && s.in.PushSim != nil {
		sim := s.in.PushSim
		return func(context.Context) (int, error) { return sim.MessageCount(), nil }, nil
	}
	if b.flags.PushSimURL == "" {
		return nil, errors.New("notifications scenario: --push-sim-url is required with --target (the fundigo push-sim it sends to)")
	}
	if err := kit.CheckLoopback(context.Background(), b.flags.PushSimURL); err != nil {
		return nil, err
	}
	c := &client{http: http.DefaultClient, base: strings.TrimRight(b.flags.PushSimURL, "/")}
	return func(ctx context.Context) (int, error) {
		body, err := c.do(ctx, http.MethodGet, "/_sim/stats", nil, http.StatusOK, nil)
		if err != nil {
			return 0, err
		}
		var st struct {
			Messages    int `json:"messages"`
			FCMMessages int `json:"fcm_messages"`
		}
		err = json.Unmarshal(body, &st)
		return st.Messages + st.FCMMessages, err
	}, nil
}

// waitDelivered polls count until it reached before+want, or no progress
// was made for 30 s; it returns how many of want arrived.
func waitDelivered(ctx context.Context, count func(context.Context) (int, error), want, before int) (int, error) {
	last, lastChange := -1, time.Now()
	for {
		n, err := count(ctx)
		if err != nil {
			return 0, err
		}
		got := n - before
		if got >= want {
			return want, nil
		}
		if got != last {
			last, lastChange = got, time.Now()
		} else if time.Since(lastChange) > 30*time.Second {
			return got, fmt.Errorf("push delivery stalled at %d of %d messages", got, want)
		}
		select {
		case <-ctx.Done():
			return got, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// registerDevices gives every user one Expo device through the API.
func registerDevices(ctx context.Context, b *benchRun, c *client, users []string) error {
	var next atomic.Int64
	res, err := kit.Run(ctx, "register", kit.Options{Concurrency: b.flags.Opts.Concurrency, Count: int64(len(users))},
		func(ctx context.Context) error {
			u := users[next.Add(1)-1]
			body := []byte(`{"user_id":"` + u + `","token":"ExponentPushToken[` + u + `]","platform":"expo"}`)
			_, err := c.do(ctx, http.MethodPost, "/v1/devices", body, 0, nil)
			return err
		})
	if err == nil && res.Errors > 0 {
		err = fmt.Errorf("register devices: %d of %d failed: %s", res.Errors, len(users), res.FirstError)
	}
	return err
}
