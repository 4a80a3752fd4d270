package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	kit "fundigo/pkg/bench"
	"fundigo/pkg/notification"
)

// pushPath times the push path alone: --push-messages messages' worth of
// notifications to --fanout users each are stored with one
// notification.CreateMany (the rows and notification.requested events
// Create writes) in a transaction of the bench's own, the clock starts as
// it commits, and stops when the last expected message reached the push
// simulator. Every token must then have got exactly its messages: a
// missing or a duplicate message fails the run. In-process systems only
// (it writes to the system's database and reads its simulator).
func pushPath(ctx context.Context, b *benchRun, s *system, users []string, fanout int) error {
	if b.flags.PushMessages <= 0 {
		return nil
	}
	if s.in == nil || s.in.PushSim == nil {
		b.add(kit.Result{Name: "notifications.push_path", Note: "skipped: needs the in-process system and push simulator"}, "", nil)
		return nil
	}
	count := max(1, b.flags.PushMessages/fanout)
	rs := make([]notification.Request, count)
	want := make(map[string]int, len(users))
	for i := range rs {
		ids := make([]string, fanout)
		for j := range ids {
			ids[j] = users[(i*fanout+j)%len(users)]
			want["ExponentPushToken["+ids[j]+"]"]++
		}
		rs[i] = notification.Request{ID: uuid.NewString(), UserIDs: ids,
			Title: "Fundi on the way", Body: "Your fundi arrives in 20 minutes."}
	}
	total := count * fanout

	// The clock starts on a quiet system: what the intake phase left
	// (events still queued for the live feed, outbox rows) is not counted
	// against the push path.
	quiet, err := quiesce(ctx, s)
	if err != nil {
		return fmt.Errorf("push path: %w", err)
	}

	sim := s.in.PushSim
	before := sim.Stats()
	tx, err := s.in.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("push path: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := notification.CreateMany(ctx, tx, rs); err != nil {
		return fmt.Errorf("push path: create %d notifications: %w", count, err)
	}
	name := "notifications.push_path"
	stop, err := b.profile(name)
	if err != nil {
		return err
	}
	pool0 := s.in.Pool.Stat()
	cpu := kit.StartCPU()
	start := time.Now()
	if err := tx.Commit(ctx); err != nil {
		stop()
		return fmt.Errorf("push path: commit %d notifications: %w", count, err)
	}
	// MessageCount, not Stats: polling must not copy the per-token counts
	// (10,000 entries) fifty times a second inside the measured process.
	got, err := waitDelivered(ctx, func(context.Context) (int, error) {
		return sim.MessageCount(), nil
	}, total, before.Messages+before.FCMMessages)
	res := kit.Timed(name, int64(got), time.Since(start))
	cpu.Stop(&res)
	stop()
	res.Unit = "push message"
	target := &kit.Target{MinRate: 20000}
	if fanout == 1 {
		target = &kit.Target{MinRate: 5000}
	}
	pool1 := s.in.Pool.Stat()
	res.Note = fmt.Sprintf("%d notifications to %d users each, created before the clock (started after %s waiting for the intake phase's events to drain); "+
		"%d of %d messages settled at the push simulator; database pool of %d: %d acquires waited for a connection, %s in all",
		count, fanout, quiet.Round(time.Millisecond), got, total, pool1.MaxConns(), pool1.EmptyAcquireCount()-pool0.EmptyAcquireCount(),
		(pool1.EmptyAcquireWaitTime() - pool0.EmptyAcquireWaitTime()).Round(time.Millisecond))
	b.add(res, "", target)
	if err != nil {
		return fmt.Errorf("push path: %w", err)
	}
	return checkOnce(ctx, s, rs, before.PerToken, want)
}

// quiesce waits until the in-process system has nothing left to do from
// earlier phases: no outbox row unpublished and no message ready in any of
// its RabbitMQ queues (in flight: at most a prefetch per consumer). It
// returns how long it waited; two minutes without getting there is an
// error.
func quiesce(ctx context.Context, s *system) (time.Duration, error) {
	start := time.Now()
	conn, err := amqp.Dial(s.cfg.AMQP.URL.Reveal())
	if err != nil {
		return 0, fmt.Errorf("quiesce: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return 0, fmt.Errorf("quiesce: %w", err)
	}
	for {
		var left int
		if err := s.in.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&left); err != nil {
			return 0, fmt.Errorf("quiesce: count unpublished outbox rows: %w", err)
		}
		for _, q := range s.in.AMQPQueues {
			st, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
			if err != nil {
				return 0, fmt.Errorf("quiesce: inspect queue %s: %w", q, err)
			}
			left += st.Messages
		}
		if left == 0 {
			return time.Since(start), nil
		}
		if time.Since(start) > 2*time.Minute {
			return 0, fmt.Errorf("quiesce: %d events still waiting after 2m", left)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkOnce waits until the notifications rs are done (nothing of theirs
// left claimed or pending) and then compares every token's messages at the
// simulator since before with want.
func checkOnce(ctx context.Context, s *system, rs []notification.Request, before, want map[string]int) error {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var open int
		if err := s.in.Pool.QueryRow(ctx,
			`SELECT count(*) FROM notifications WHERE id = ANY($1::uuid[]) AND status <> 'done'`, ids).Scan(&open); err != nil {
			return fmt.Errorf("push path: count open notifications: %w", err)
		}
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("push path: %d of %d notifications not done 30s after their messages arrived", open, len(ids))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	after := s.in.PushSim.Stats().PerToken
	var errs []error
	for tok, n := range want {
		if got := after[tok] - before[tok]; got != n {
			errs = append(errs, fmt.Errorf("%s: %d messages, want %d", tok, got, n))
			if len(errs) == 5 {
				break
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("push path: not every message delivered exactly once: %w", errors.Join(errs...))
	}
	for tok, n := range after {
		if n != before[tok] && want[tok] == 0 {
			return fmt.Errorf("push path: %d unexpected messages to %s", n-before[tok], tok)
		}
	}
	return nil
}
