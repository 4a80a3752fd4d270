package amqpx_test

import (
	"context"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/amqpx/amqpxtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bundle is one test's isolated broker objects.
type bundle struct {
	names    *amqpxtest.Namespace
	exchange string
	log      zerolog.Logger
	conn     *amqpx.Conn
}

func setup(t *testing.T) *bundle {
	t.Helper()
	names := amqpxtest.Names(t)
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	return &bundle{
		names:    names,
		exchange: names.Exchange("events"),
		log:      log,
		conn:     amqpxtest.Conn(t, log),
	}
}

func (b *bundle) publisher(t *testing.T, cfg amqpx.PublisherConfig) *amqpx.Publisher {
	t.Helper()
	p, err := amqpx.NewPublisher(b.conn, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, p.Close(ctx))
	})
	return p
}

// spec returns a consumer spec on a fresh queue bound to the test exchange
// with key "#", with fast retries.
func (b *bundle) spec(queue string, h amqpx.HandlerFunc) amqpx.ConsumerSpec {
	return amqpx.ConsumerSpec{
		Queue:       b.names.Queue(queue),
		Exchange:    b.exchange,
		Bindings:    []string{"#"},
		Concurrency: 4,
		RetryDelays: []time.Duration{time.Millisecond, 10 * time.Millisecond},
		Handler:     h,
	}
}

// start declares spec's topology (so publishes right after are routed) and
// runs a consumer until the test ends; Cleanup checks Run returned nil.
func (b *bundle) start(t *testing.T, spec amqpx.ConsumerSpec) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, b.conn.Declare(ctx, spec.Topology()))
	c, err := amqpx.NewConsumer(b.conn, b.log, spec)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// collector records deliveries by MessageId.
type collector struct {
	mu   sync.Mutex
	seen map[string]int
	body map[string]string
}

func newCollector() *collector {
	return &collector{seen: map[string]int{}, body: map[string]string{}}
}

func (c *collector) handle(_ context.Context, d amqp.Delivery) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[d.MessageId]++
	c.body[d.MessageId] = string(d.Body)
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func (c *collector) snapshot() (map[string]int, map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen, body := map[string]int{}, map[string]string{}
	for k, v := range c.seen {
		seen[k] = v
	}
	for k, v := range c.body {
		body[k] = v
	}
	return seen, body
}

// getDLQ fetches one message from queue's DLQ, polling until one arrives.
func getDLQ(t *testing.T, conn *amqpx.Conn, queue string) amqp.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch, err := conn.Channel(ctx)
	require.NoError(t, err)
	defer ch.Close()
	var got amqp.Delivery
	require.Eventually(t, func() bool {
		d, ok, err := ch.Get(amqpx.DLQName(queue), false)
		require.NoError(t, err)
		if ok {
			require.NoError(t, d.Ack(false))
			got = d
		}
		return ok
	}, 15*time.Second, 20*time.Millisecond)
	return got
}

// queueDepth is the number of ready messages in queue.
func queueDepth(t *testing.T, conn *amqpx.Conn, queue string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, err := conn.Channel(ctx)
	require.NoError(t, err)
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	require.NoError(t, err)
	return q.Messages
}
