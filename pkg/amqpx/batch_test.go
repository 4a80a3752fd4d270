package amqpx_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/outcome"
)

// batchRecorder records every delivery a batch handler saw, by message id,
// with its attempt, and the size of every batch.
type batchRecorder struct {
	mu       sync.Mutex
	attempts map[string][]int
	sizes    []int
}

func newBatchRecorder() *batchRecorder { return &batchRecorder{attempts: map[string][]int{}} }

func (r *batchRecorder) record(batch []amqpx.Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sizes) == 0 {
		// The first batch is taken as soon as one message is there; a slow
		// first batch lets the rest arrive and wait, as under load.
		time.Sleep(200 * time.Millisecond)
	}
	r.sizes = append(r.sizes, len(batch))
	for _, d := range batch {
		r.attempts[d.MessageId] = append(r.attempts[d.MessageId], d.Info.Attempt)
	}
}

func (r *batchRecorder) snapshot() (map[string][]int, []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]int, len(r.attempts))
	for k, v := range r.attempts {
		out[k] = append([]int(nil), v...)
	}
	return out, append([]int(nil), r.sizes...)
}

// publishIDs publishes one message per id, all before waiting for confirms.
func publishIDs(t *testing.T, b *bundle, ids []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub := b.publisher(t, amqpx.PublisherConfig{Mandatory: true})
	msgs := make([]amqpx.Message, len(ids))
	for i, id := range ids {
		msgs[i] = amqpx.Message{Exchange: b.exchange, RoutingKey: "payment.paid",
			Publishing: amqp.Publishing{MessageId: id, Body: []byte("body-" + id)}}
	}
	for _, err := range pub.PublishBatch(ctx, msgs) {
		require.NoError(t, err)
	}
}

// batchSpec is a batch consumer on a fresh queue, started only once the
// messages wait in it (so batches are full).
func (b *bundle) batchSpec(queue string, h amqpx.BatchHandlerFunc) amqpx.ConsumerSpec {
	s := b.spec(queue, nil)
	s.Handler, s.BatchHandler = nil, h
	s.Concurrency, s.MaxBatch = 2, 16
	return s
}

// One batch carries good messages, a permanent failure, a message that
// fails once (retryable) and one that always fails: each is settled by its
// own result exactly as in single mode. The good ones are handled once and
// acked (a multiple ack that took in a failed one would make the broker
// close the channel on the failed one's settle, and every message would
// come again), the permanent one is dead-lettered at once, the flaky one
// comes back once through the retry queue, and the always-failing one is
// dead-lettered after DeliveryLimit attempts.
func TestBatchSettlesEachDeliveryByItsOwnResult(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := newBatchRecorder()
	var observed sync.Map // message id → classes seen by the spec's middleware
	spec := b.batchSpec("batch-mixed", func(ctx context.Context, batch []amqpx.Delivery) []error {
		rec.record(batch)
		errs := make([]error, len(batch))
		for i, d := range batch {
			switch {
			case d.MessageId == "perm":
				errs[i] = amqpx.Permanent(errors.New("unknown payload version"))
			case d.MessageId == "flaky" && d.Info.Attempt == 1, d.MessageId == "always":
				errs[i] = errors.New("database unavailable")
			}
		}
		return errs
	})
	spec.DeliveryLimit = 3
	spec.Middleware = []amqpx.MiddlewareFunc{amqpx.Observe(func(info amqpx.Info, c outcome.Class, _ time.Duration) {
		v, _ := observed.LoadOrStore(info.MessageID, &[]outcome.Class{})
		*v.(*[]outcome.Class) = append(*v.(*[]outcome.Class), c)
	})}
	var ids []string
	for i := range 40 {
		switch i {
		case 5:
			ids = append(ids, "perm")
		case 9:
			ids = append(ids, "flaky")
		case 13:
			ids = append(ids, "always")
		default:
			ids = append(ids, fmt.Sprintf("good-%02d", i))
		}
	}
	require.NoError(t, b.conn.Declare(context.Background(), spec.Topology()))
	publishIDs(t, b, ids)
	b.start(t, spec)

	require.Eventually(t, func() bool { return queueDepth(t, b.conn, amqpx.DLQName(spec.Queue)) == 2 },
		15*time.Second, 20*time.Millisecond, "perm and always end in the DLQ")
	require.Eventually(t, func() bool {
		return queueDepth(t, b.conn, spec.Queue) == 0 && queueDepth(t, b.conn, amqpx.RetryQueueName(spec.Queue)) == 0
	}, 5*time.Second, 20*time.Millisecond)

	attempts, sizes := rec.snapshot()
	for _, id := range ids {
		switch id {
		case "perm":
			require.Equal(t, []int{1}, attempts[id], "a permanent failure is not retried")
		case "flaky":
			require.Equal(t, []int{1, 2}, attempts[id])
		case "always":
			require.Equal(t, []int{1, 2, 3}, attempts[id], "dead-lettered after DeliveryLimit attempts")
		default:
			require.Equal(t, []int{1}, attempts[id], "%s is handled once", id)
		}
	}
	t.Logf("batch sizes: %v", sizes)
	require.Greater(t, slices.Max(sizes), 1, "the waiting messages were taken as batches: %v", sizes)
	for _, s := range sizes {
		require.LessOrEqual(t, s, spec.MaxBatch)
	}
	classes := func(id string) []outcome.Class {
		v, ok := observed.Load(id)
		require.True(t, ok, id)
		return *v.(*[]outcome.Class)
	}
	require.Equal(t, []outcome.Class{outcome.AlreadyDone}, classes("good-00"), "middleware sees each delivery, classified")
	require.Equal(t, []outcome.Class{outcome.PermanentFailure}, classes("perm"))
	require.Equal(t, []outcome.Class{outcome.Retry, outcome.AlreadyDone}, classes("flaky"))

	got := map[string]bool{}
	for range 2 {
		got[getDLQ(t, b.conn, spec.Queue).MessageId] = true
	}
	require.Equal(t, map[string]bool{"perm": true, "always": true}, got)
}

// A batch handler that panics loses nothing and acks nothing: every message
// of the batch comes back (retryable) and is handled on its next attempt.
func TestBatchPanicRedeliversTheBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := newBatchRecorder()
	var (
		mu       sync.Mutex
		panicked bool
		handled  = map[string]int{}
	)
	spec := b.batchSpec("batch-panic", func(_ context.Context, batch []amqpx.Delivery) []error {
		rec.record(batch)
		mu.Lock()
		defer mu.Unlock()
		if !panicked {
			panicked = true
			panic("handler bug")
		}
		for _, d := range batch {
			handled[d.MessageId]++
		}
		return nil
	})
	spec.Concurrency = 1
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = fmt.Sprintf("m-%02d", i)
	}
	require.NoError(t, b.conn.Declare(context.Background(), spec.Topology()))
	publishIDs(t, b, ids)
	b.start(t, spec)

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == len(ids)
	}, 15*time.Second, 20*time.Millisecond, "every message is handled after the panic")
	require.Eventually(t, func() bool {
		return queueDepth(t, b.conn, spec.Queue) == 0 && queueDepth(t, b.conn, amqpx.RetryQueueName(spec.Queue)) == 0
	}, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, 0, queueDepth(t, b.conn, amqpx.DLQName(spec.Queue)))

	attempts, sizes := rec.snapshot()
	first := sizes[0]
	require.Greater(t, slices.Max(sizes), 1, "batches: %v", sizes)
	panickedIDs := 0
	for _, id := range ids {
		mu.Lock()
		require.Equal(t, 1, handled[id], id)
		mu.Unlock()
		switch len(attempts[id]) {
		case 1:
			require.Equal(t, []int{1}, attempts[id])
		case 2:
			require.Equal(t, []int{1, 2}, attempts[id], "a message of the panicked batch comes back once")
			panickedIDs++
		default:
			t.Fatalf("%s attempts %v", id, attempts[id])
		}
	}
	require.Equal(t, first, panickedIDs, "exactly the panicked batch was retried")
}

// WrapBatch gives each delivery of a batch the per-delivery middleware, fed
// with that delivery's result; a panic reaches each delivery's wrappers and
// then leaves the batch.
func TestWrapBatchReplaysResultsPerDelivery(t *testing.T) {
	t.Parallel()
	var (
		classes []outcome.Class
		infos   []string
		panics  int
	)
	observe := amqpx.Observe(func(info amqpx.Info, c outcome.Class, _ time.Duration) {
		classes = append(classes, c)
		infos = append(infos, info.MessageID)
	})
	reraise := func(next amqpx.HandlerFunc) amqpx.HandlerFunc {
		return func(ctx context.Context, d amqp.Delivery) error {
			defer func() {
				if p := recover(); p != nil {
					panics++
					panic(p)
				}
			}()
			return next(ctx, d)
		}
	}
	batch := []amqpx.Delivery{{Info: amqpx.Info{MessageID: "a"}}, {Info: amqpx.Info{MessageID: "b"}}, {Info: amqpx.Info{MessageID: "c"}}}
	h := amqpx.WrapBatch(func(context.Context, []amqpx.Delivery) []error {
		return []error{nil, amqpx.Permanent(errors.New("bad")), errors.New("later")}
	}, observe, amqpx.Classify())
	errs := h(context.Background(), batch)
	require.Len(t, errs, 3)
	require.NoError(t, errs[0])
	require.True(t, outcome.IsPermanent(errs[1]))
	require.ErrorContains(t, errs[2], "later")
	require.False(t, outcome.IsPermanent(errs[2]))
	require.Equal(t, []outcome.Class{outcome.AlreadyDone, outcome.PermanentFailure, outcome.Retry}, classes)
	require.Equal(t, []string{"a", "b", "c"}, infos)

	all := amqpx.WrapBatch(func(context.Context, []amqpx.Delivery) []error { return nil }, reraise)
	require.Equal(t, []error{nil, nil, nil}, all(context.Background(), batch), "nil is all handled")

	boom := amqpx.WrapBatch(func(context.Context, []amqpx.Delivery) []error { panic("boom") }, reraise)
	require.PanicsWithValue(t, "boom", func() {
		defer func() {
			if p := recover(); p != nil {
				panic(fmt.Sprint(p)) // the batch's panic, as its value prints
			}
		}()
		boom(context.Background(), batch)
	})
	require.Equal(t, 3, panics, "each delivery's wrapper saw the panic")

	short := amqpx.WrapBatch(func(context.Context, []amqpx.Delivery) []error { return []error{nil} }, amqpx.Classify())
	for _, err := range short(context.Background(), batch) {
		require.ErrorContains(t, err, "1 results for 3 messages")
	}
}

// JSONBatch fails an undecodable body alone, permanently, and gives the
// handler the others with their Info.
func TestJSONBatchDecodesEachMessage(t *testing.T) {
	t.Parallel()
	type event struct {
		ID string `json:"id"`
	}
	var got []string
	h := amqpx.JSONBatch(func(_ context.Context, batch []amqpx.Decoded[event]) []error {
		errs := make([]error, len(batch))
		for i, m := range batch {
			got = append(got, m.Info.RoutingKey+":"+m.Msg.ID)
			if m.Msg.ID == "retry" {
				errs[i] = errors.New("later")
			}
		}
		return errs
	})
	d := func(body string) amqpx.Delivery {
		return amqpx.Delivery{Delivery: amqp.Delivery{Body: []byte(body)}, Info: amqpx.Info{RoutingKey: "payment.paid"}}
	}
	errs := h(context.Background(), []amqpx.Delivery{d(`{"id":"a"}`), d(`{`), d(`{"id":"retry"}`), d(`{"id":"b"} x`)})
	require.NoError(t, errs[0])
	require.True(t, outcome.IsPermanent(errs[1]))
	require.ErrorContains(t, errs[2], "later")
	require.True(t, outcome.IsPermanent(errs[3]), "trailing data")
	require.Equal(t, []string{"payment.paid:a", "payment.paid:retry"}, got)
	require.Contains(t, errs[1].Error(), "decode payment.paid message")
}
