package amqpx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
)

// call is one handler invocation, in the order the handlers started.
type call struct {
	id      string
	attempt int
}

// TestRetryableFailuresDoNotDelayNewMessages is #12 row 2 on the consumer
// side: 200 messages that always fail with a retryable error, then a few
// valid ones. The failed ones wait for their redelivery in the retry queue,
// not in a handler slot and not ahead of the queue, so every valid message is
// handled before any poison message's second attempt, and each poison message
// ends in the DLQ after DeliveryLimit attempts.
func TestRetryableFailuresDoNotDelayNewMessages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const poison, valid = 200, 5
	var (
		mu    sync.Mutex
		calls []call
	)
	spec := b.spec("poison-stall", func(ctx context.Context, d amqp.Delivery) error {
		info, ok := amqpx.InfoFrom(ctx)
		require.True(t, ok)
		mu.Lock()
		calls = append(calls, call{d.MessageId, info.Attempt})
		mu.Unlock()
		if strings.HasPrefix(d.MessageId, "poison") {
			return errors.New("could not apply: database error") // retryable
		}
		return nil
	})
	spec.Concurrency = 8
	spec.DeliveryLimit = 2
	// Long enough for the first pass over 205 messages even on a loaded CI
	// machine; the assertion is about order, not time.
	spec.RetryDelays = []time.Duration{3 * time.Second}
	b.start(t, spec)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := b.publisher(t, amqpx.PublisherConfig{Mandatory: true})
	msgs := make([]amqpx.Message, 0, poison+valid)
	for i := range poison {
		msgs = append(msgs, amqpx.Message{Exchange: b.exchange, RoutingKey: "stk.callback",
			Publishing: amqp.Publishing{MessageId: fmt.Sprintf("poison-%03d", i), Body: []byte(`{"ResultCode":"1\u0000"}`)}})
	}
	for i := range valid {
		msgs = append(msgs, amqpx.Message{Exchange: b.exchange, RoutingKey: "stk.callback",
			Publishing: amqp.Publishing{MessageId: fmt.Sprintf("valid-%d", i), Body: []byte(`{}`)}})
	}
	for _, err := range pub.PublishBatch(ctx, msgs) {
		require.NoError(t, err)
	}

	require.Eventually(t, func() bool { return queueDepth(t, b.conn, amqpx.DLQName(spec.Queue)) == poison },
		30*time.Second, 50*time.Millisecond, "every poison message ends in the DLQ")

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, calls, 2*poison+valid, "each poison message is tried DeliveryLimit times, each valid one once")
	firstRetry := -1
	lastValid := -1
	attempts := map[string][]int{}
	for i, c := range calls {
		attempts[c.id] = append(attempts[c.id], c.attempt)
		if c.attempt > 1 && firstRetry < 0 {
			firstRetry = i
		}
		if strings.HasPrefix(c.id, "valid") {
			lastValid = i
		}
	}
	require.Greater(t, firstRetry, lastValid, "every valid message is handled before any redelivery")
	for i := range valid {
		require.Equal(t, []int{1}, attempts[fmt.Sprintf("valid-%d", i)])
	}
	for i := range poison {
		require.Equal(t, []int{1, 2}, attempts[fmt.Sprintf("poison-%03d", i)])
	}
	require.Equal(t, 0, queueDepth(t, b.conn, spec.Queue))
	require.Equal(t, 0, queueDepth(t, b.conn, amqpx.RetryQueueName(spec.Queue)))
}

// TestRedeliveryKeepsRoutingKeyAndMessage checks what the trip through the
// retry queue preserves: body, message id, headers and (through Info) the
// original routing key, so Dispatch still finds the route.
func TestRedeliveryKeepsRoutingKeyAndMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	type seen struct {
		key, body, header string
		attempt           int
	}
	got := make(chan seen, 4)
	first := true
	spec := b.spec("redeliver", amqpx.Dispatch(
		amqpx.Route{Key: "payment.paid", Handler: func(ctx context.Context, d amqp.Delivery) error {
			info, _ := amqpx.InfoFrom(ctx)
			h, _ := d.Headers["x-trace"].(string)
			got <- seen{info.RoutingKey, string(d.Body), h, info.Attempt}
			if first {
				first = false
				return errors.New("try again")
			}
			return nil
		}},
	))
	spec.Concurrency = 1
	b.start(t, spec)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub := b.publisher(t, amqpx.PublisherConfig{Mandatory: true})
	require.NoError(t, pub.Publish(ctx, b.exchange, "payment.paid",
		amqp.Publishing{MessageId: "m1", Body: []byte("body"), Headers: amqp.Table{"x-trace": "t1"}}))
	for attempt := 1; attempt <= 2; attempt++ {
		select {
		case s := <-got:
			require.Equal(t, seen{"payment.paid", "body", "t1", attempt}, s)
		case <-ctx.Done():
			t.Fatalf("attempt %d not delivered", attempt)
		}
	}
	require.Eventually(t, func() bool { return queueDepth(t, b.conn, spec.Queue) == 0 }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, 0, queueDepth(t, b.conn, amqpx.DLQName(spec.Queue)))
}
