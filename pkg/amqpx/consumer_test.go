package amqpx_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
)

func publishOne(t *testing.T, b *bundle, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub := b.publisher(t, amqpx.PublisherConfig{Mandatory: true})
	require.NoError(t, pub.Publish(ctx, b.exchange, "k", amqp.Publishing{MessageId: id, Body: []byte("body-" + id)}))
}

func TestHandlerErrorRequeues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var (
		mu     sync.Mutex
		counts []any // x-delivery-count per attempt
	)
	done := make(chan struct{})
	spec := b.spec("retry", func(_ context.Context, d amqp.Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		counts = append(counts, d.Headers["x-delivery-count"])
		if len(counts) < 3 {
			return errors.New("database unavailable")
		}
		close(done)
		return nil
	})
	b.start(t, spec)
	publishOne(t, b, "m")

	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("message not redelivered until success")
	}
	mu.Lock()
	require.Len(t, counts, 3)
	require.Nil(t, counts[0], "first delivery has no x-delivery-count")
	mu.Unlock()
	require.Eventually(t, func() bool { return queueDepth(t, b.conn, spec.Queue) == 0 }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, 0, queueDepth(t, b.conn, amqpx.DLQName(spec.Queue)), "a message that finally succeeded is not dead-lettered")
}

func TestPermanentErrorDeadLetters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var calls atomic.Int32
	spec := b.spec("perm", func(_ context.Context, d amqp.Delivery) error {
		calls.Add(1)
		return amqpx.Permanent(errors.New("unknown payload version"))
	})
	b.start(t, spec)
	publishOne(t, b, "bad")

	d := getDLQ(t, b.conn, spec.Queue)
	require.Equal(t, "bad", d.MessageId)
	require.Equal(t, "body-bad", string(d.Body))
	require.Equal(t, int32(1), calls.Load(), "a permanent failure is not retried")
	require.Equal(t, 0, queueDepth(t, b.conn, spec.Queue))
}

func TestPoisonMessageHitsDeliveryLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var calls atomic.Int32
	spec := b.spec("poison", func(_ context.Context, d amqp.Delivery) error {
		calls.Add(1)
		panic("handler bug") // recovered, treated as a retryable error
	})
	spec.DeliveryLimit = 3
	b.start(t, spec)
	publishOne(t, b, "poison")

	d := getDLQ(t, b.conn, spec.Queue)
	require.Equal(t, "poison", d.MessageId)
	require.Equal(t, "body-poison", string(d.Body))
	// DeliveryLimit 3: the third failed attempt dead-letters it.
	require.Equal(t, int32(3), calls.Load())
}

func TestConsumerDrainsInFlightOnShutdown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started, release := make(chan struct{}), make(chan struct{})
	var handled atomic.Bool
	spec := b.spec("drain", func(ctx context.Context, d amqp.Delivery) error {
		close(started)
		<-release
		handled.Store(true)
		return ctx.Err() // the handler ctx must survive the shutdown
	})
	spec.Concurrency = 1

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, b.conn.Declare(ctx, spec.Topology()))
	c, err := amqpx.NewConsumer(b.conn, b.log, spec)
	require.NoError(t, err)
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx) }()
	publishOne(t, b, "slow")

	<-started
	cancel()
	select {
	case <-runDone:
		t.Fatal("Run returned before the in-flight handler finished")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-runDone)
	require.True(t, handled.Load())
	require.Equal(t, 0, queueDepth(t, b.conn, spec.Queue), "the drained message was acked")
}

func TestConsumerSpecValidate(t *testing.T) {
	t.Parallel()
	h := func(context.Context, amqp.Delivery) error { return nil }
	tests := []struct {
		name string
		spec amqpx.ConsumerSpec
		want string
	}{
		{"no queue", amqpx.ConsumerSpec{Handler: h}, "queue is empty"},
		{"no handler", amqpx.ConsumerSpec{Queue: "q"}, "handler is nil"},
		{"bindings without exchange", amqpx.ConsumerSpec{Queue: "q", Bindings: []string{"a"}, Handler: h}, "bindings without an exchange"},
		{"prefetch below concurrency", amqpx.ConsumerSpec{Queue: "q", Handler: h, Concurrency: 4, Prefetch: 2}, "prefetch is below concurrency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := amqpx.NewConsumer(nil, zerolog.Nop(), tt.spec)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
