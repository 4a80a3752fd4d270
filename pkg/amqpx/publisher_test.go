package amqpx_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
)

func TestPublishConsumeRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := make(chan amqp.Delivery, 1)
	b.start(t, b.spec("roundtrip", func(_ context.Context, d amqp.Delivery) error {
		got <- d
		return nil
	}))
	pub := b.publisher(t, amqpx.PublisherConfig{Mandatory: true})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := pub.Publish(ctx, b.exchange, "payment.paid", amqp.Publishing{
		MessageId:   "m-1",
		Type:        "payment.paid",
		ContentType: "application/json",
		Headers:     amqp.Table{"tenant": "ke"},
		Body:        []byte(`{"payment_id":"p1"}`),
	})
	require.NoError(t, err)

	select {
	case d := <-got:
		require.Equal(t, "m-1", d.MessageId)
		require.Equal(t, "payment.paid", d.Type)
		require.Equal(t, "payment.paid", d.RoutingKey)
		require.Equal(t, `{"payment_id":"p1"}`, string(d.Body))
		require.Equal(t, "ke", d.Headers["tenant"])
		require.Equal(t, amqp.Persistent, d.DeliveryMode, "messages default to persistent")
	case <-ctx.Done():
		t.Fatal("message not consumed")
	}
	require.Eventually(t, func() bool { return queueDepth(t, b.conn, b.names.Queue("roundtrip")) == 0 },
		5*time.Second, 20*time.Millisecond, "acked message must leave the queue")
}

func TestPublishManyConcurrentAllConfirmedAndConsumed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	col := newCollector()
	b.start(t, b.spec("many", col.handle))
	pub := b.publisher(t, amqpx.PublisherConfig{})

	const goroutines, perG = 16, 64
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perG)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				id := fmt.Sprintf("g%d-%d", g, i)
				errs <- pub.Publish(ctx, b.exchange, "k", amqp.Publishing{MessageId: id, Body: []byte("body-" + id)})
			}
		})
	}
	// A batch on top, pipelined in one call.
	batch := make([]amqpx.Message, 100)
	for i := range batch {
		id := fmt.Sprintf("batch-%d", i)
		batch[i] = amqpx.Message{Exchange: b.exchange, RoutingKey: "k", Publishing: amqp.Publishing{MessageId: id, Body: []byte("body-" + id)}}
	}
	for i, err := range pub.PublishBatch(ctx, batch) {
		require.NoError(t, err, "batch message %d", i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	total := goroutines*perG + len(batch)
	require.Eventually(t, func() bool { return col.count() == total }, 30*time.Second, 20*time.Millisecond)
	seen, body := col.snapshot()
	for id, n := range seen {
		require.Equal(t, 1, n, "message %s consumed once", id)
		require.Equal(t, "body-"+id, body[id])
	}
}

func TestPublishUnroutable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.conn.Declare(ctx, amqpx.Topology{Exchanges: []amqpx.Exchange{{Name: b.exchange}}}))

	mandatory := b.publisher(t, amqpx.PublisherConfig{Mandatory: true})
	err := mandatory.Publish(ctx, b.exchange, "nobody.listens", amqp.Publishing{Body: []byte("x")})
	require.ErrorIs(t, err, amqpx.ErrUnroutable)

	// Routable messages on the same mandatory publisher still succeed, and
	// the caller's headers are not modified.
	q := b.names.Queue("bound")
	require.NoError(t, b.conn.Declare(ctx, amqpx.Topology{Queues: []amqpx.Queue{{Name: q, Exchange: b.exchange, Bindings: []string{"bound"}}}}))
	headers := amqp.Table{"a": "b"}
	require.NoError(t, mandatory.Publish(ctx, b.exchange, "bound", amqp.Publishing{Headers: headers, Body: []byte("y")}))
	require.Equal(t, amqp.Table{"a": "b"}, headers)

	plain := b.publisher(t, amqpx.PublisherConfig{})
	require.NoError(t, plain.Publish(ctx, b.exchange, "nobody.listens", amqp.Publishing{Body: []byte("x")}),
		"without mandatory the broker confirms an unroutable message")
}

func TestPublishToMissingExchangeFailsThenPublisherRecovers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	col := newCollector()
	b.start(t, b.spec("recover", col.handle))
	pub := b.publisher(t, amqpx.PublisherConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The broker closes the channel (404), so the confirm never comes.
	err := pub.Publish(ctx, b.names.Exchange("missing"), "k", amqp.Publishing{MessageId: "lost", Body: []byte("x")})
	require.ErrorIs(t, err, amqpx.ErrUnconfirmed)

	// The next publish opens a new channel and is confirmed and consumed.
	require.NoError(t, pub.Publish(ctx, b.exchange, "k", amqp.Publishing{MessageId: "ok", Body: []byte("y")}))
	require.Eventually(t, func() bool { return col.count() == 1 }, 10*time.Second, 10*time.Millisecond)
	seen, _ := col.snapshot()
	require.Equal(t, map[string]int{"ok": 1}, seen)
}

func TestPublisherClosed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pub, err := amqpx.NewPublisher(b.conn, amqpx.PublisherConfig{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, pub.Ready(ctx))
	require.NoError(t, pub.Close(ctx))
	require.ErrorIs(t, pub.Publish(ctx, b.exchange, "k", amqp.Publishing{}), amqpx.ErrClosed)
}

func TestPublishHonoursContext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pub := b.publisher(t, amqpx.PublisherConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, pub.Publish(ctx, b.exchange, "k", amqp.Publishing{}), context.Canceled)
}
