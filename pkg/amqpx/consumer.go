package amqpx

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"fundigo/pkg/logging"
)

// HandlerFunc handles one delivery. Its return value decides the ack:
//   - nil: ack (also return nil for a duplicate that was already applied);
//   - Permanent(err): reject without requeue, so the queue dead-letters it;
//   - any other error, or a panic: requeue after a backoff; the queue's
//     delivery limit dead-letters a message that never succeeds.
//
// The handler must be idempotent (delivery is at-least-once) and must not ack
// the delivery itself. ctx carries a per-message zerolog logger
// (zerolog.Ctx) and ends after ConsumerSpec.HandlerTimeout; it is not
// cancelled by shutdown, so an in-flight message finishes and is acked.
type HandlerFunc func(ctx context.Context, d amqp.Delivery) error

// ConsumerSpec declares one queue and how to consume it. Workers return these
// from their Consumers(deps) functions.
type ConsumerSpec struct {
	// Queue is the quorum queue to consume; it is declared (with its DLX and
	// DLQ) and bound to Exchange with Bindings before consuming starts.
	Queue    string
	Exchange string   // topic exchange the bindings are on (events.Exchange)
	Bindings []string // routing keys or patterns, e.g. "payment.*"

	// Concurrency is the number of handler goroutines. Default 1.
	Concurrency int
	// Prefetch bounds unacked deliveries held by this consumer (basic.qos).
	// Default 2×Concurrency.
	Prefetch int
	// DeliveryLimit is the queue's x-delivery-limit. Default DefaultDeliveryLimit.
	DeliveryLimit int
	// HandlerTimeout bounds one handler call. Default 1m.
	HandlerTimeout time.Duration
	// RetryDelay and MaxRetryDelay bound the pause before a failed delivery
	// is requeued (doubling with x-delivery-count), so a transient outage does
	// not exhaust the delivery limit in milliseconds. Defaults 100ms and 30s.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration

	Handler HandlerFunc
}

func (s *ConsumerSpec) setDefaults() {
	if s.Concurrency == 0 {
		s.Concurrency = 1
	}
	if s.Prefetch == 0 {
		s.Prefetch = 2 * s.Concurrency
	}
	if s.HandlerTimeout == 0 {
		s.HandlerTimeout = time.Minute
	}
	if s.RetryDelay == 0 {
		s.RetryDelay = 100 * time.Millisecond
	}
	if s.MaxRetryDelay == 0 {
		s.MaxRetryDelay = 30 * time.Second
	}
}

// Validate reports every invalid field at once.
func (s ConsumerSpec) Validate() error {
	var errs []error
	if s.Queue == "" {
		errs = append(errs, errors.New("queue is empty"))
	}
	if s.Handler == nil {
		errs = append(errs, errors.New("handler is nil"))
	}
	if s.Concurrency < 0 || s.Prefetch < 0 || s.DeliveryLimit < 0 {
		errs = append(errs, errors.New("concurrency, prefetch and delivery limit must not be negative"))
	}
	if s.Prefetch > 0 && s.Prefetch < s.Concurrency {
		errs = append(errs, errors.New("prefetch is below concurrency: handlers would idle"))
	}
	if err := s.Topology().Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Topology is what the spec needs declared: its exchange (topic) and queue.
func (s ConsumerSpec) Topology() Topology {
	var t Topology
	if s.Exchange != "" {
		t.Exchanges = []Exchange{{Name: s.Exchange, Kind: amqp.ExchangeTopic}}
	}
	t.Queues = []Queue{{Name: s.Queue, Exchange: s.Exchange, Bindings: s.Bindings, DeliveryLimit: s.DeliveryLimit}}
	return t
}

// Consumer consumes one queue with manual acks, bounded prefetch and a bounded
// pool of handler goroutines, and resumes by itself after a reconnect.
type Consumer struct {
	conn *Conn
	log  zerolog.Logger
	spec ConsumerSpec
}

// NewConsumer validates spec and returns a Consumer; Run starts it.
func NewConsumer(conn *Conn, log zerolog.Logger, spec ConsumerSpec) (*Consumer, error) {
	spec.setDefaults()
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("consumer %s: %w", spec.Queue, err)
	}
	return &Consumer{
		conn: conn,
		log:  log.With().Str("component", "amqp_consumer").Str(logging.FieldQueue, spec.Queue).Logger(),
		spec: spec,
	}, nil
}

// Run declares the queue and consumes until ctx ends, then cancels the
// subscription, lets the handlers finish and ack what they hold, and returns
// nil. It returns an error only if the topology cannot be declared (a
// configuration error such as mismatched queue arguments). Channel or
// connection loss is not an error: Run waits for the Conn and resumes.
func (c *Consumer) Run(ctx context.Context) error {
	if err := c.conn.Declare(ctx, c.spec.Topology()); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("consumer %s: %w", c.spec.Queue, err)
	}
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     100 * time.Millisecond,
		RandomizationFactor: 0.2,
		Multiplier:          2,
		MaxInterval:         5 * time.Second,
	}
	bo.Reset()
	for {
		started := time.Now()
		err := c.consume(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > time.Minute {
			bo.Reset()
		}
		delay := bo.NextBackOff()
		c.log.Warn().Err(err).Dur("retry_in", delay).Msg("consumer interrupted; resuming")
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil
		}
	}
}

// errCancelledByBroker means the broker ended the subscription (queue deleted
// or moved) while the channel stayed open.
var errCancelledByBroker = errors.New("consumer cancelled by broker")

// consume runs one subscription on one channel until ctx ends or the channel
// dies, and returns only after every handler started on it has returned.
func (c *Consumer) consume(ctx context.Context) error {
	ch, err := c.conn.Channel(ctx)
	if err != nil {
		return err
	}
	defer ch.Close() //nolint:errcheck // may already be closed by the broker
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := ch.Qos(c.spec.Prefetch, 0, false); err != nil {
		return fmt.Errorf("set prefetch: %w", err)
	}
	tag := c.spec.Queue + "-" + uuid.NewString()
	deliveries, err := ch.Consume(c.spec.Queue, tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	c.log.Debug().Msg("consuming")

	lost := make(chan struct{}) // closed when the channel died under the handlers
	var wg sync.WaitGroup
	for range c.spec.Concurrency {
		wg.Go(func() {
			for d := range deliveries {
				c.handle(ctx, lost, d)
			}
		})
	}
	handlersDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(handlersDone)
	}()

	select {
	case <-ctx.Done():
		// Stop intake; the library still hands over what it buffered, and
		// closes deliveries once the broker confirmed the cancel.
		if err := ch.Cancel(tag, false); err != nil {
			c.log.Debug().Err(err).Msg("cancel consumer")
		}
		<-handlersDone
		return nil
	case amqpErr := <-closed:
		close(lost)
		<-handlersDone
		if amqpErr == nil {
			return errors.New("channel closed")
		}
		return amqpErr
	case <-handlersDone:
		return errCancelledByBroker
	}
}

// handle runs the handler on d and acks, rejects or requeues it. It never
// lets a panic escape. lost is closed when d's channel died, which ends a
// retry pause early (the broker requeues d by itself).
func (c *Consumer) handle(ctx context.Context, lost <-chan struct{}, d amqp.Delivery) {
	log := c.log.With().Str(logging.FieldRoutingKey, d.RoutingKey).Str("message_id", d.MessageId).Logger()
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.spec.HandlerTimeout)
	started := time.Now()
	err := c.call(log.WithContext(hctx), d)
	cancel()

	switch {
	case err == nil:
		if ackErr := d.Ack(false); ackErr != nil {
			log.Warn().Err(ackErr).Msg("ack failed; message will be redelivered")
			return
		}
		log.Debug().Int64(logging.FieldDurationMS, time.Since(started).Milliseconds()).Msg("message handled")
	case IsPermanent(err):
		log.Error().Err(err).Msg("message rejected; dead-lettered")
		if rejErr := d.Reject(false); rejErr != nil {
			log.Warn().Err(rejErr).Msg("reject failed; message will be redelivered")
		}
	default:
		count := deliveryCount(d)
		delay := c.retryDelay(count)
		log.Warn().Err(err).Int64(logging.FieldAttempt, count+1).Dur("retry_in", delay).Msg("message failed; requeueing")
		select {
		case <-time.After(delay):
		case <-ctx.Done(): // shutting down: hand it back at once
		case <-lost:
			return
		}
		if nackErr := d.Nack(false, true); nackErr != nil {
			log.Warn().Err(nackErr).Msg("nack failed; message will be redelivered")
		}
	}
}

// call invokes the handler, turning a panic into an ordinary (retryable)
// error so a poison message ends in the DLQ instead of killing the worker.
func (c *Consumer) call(ctx context.Context, d amqp.Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
			zerolog.Ctx(ctx).Error().Str("stack", string(debug.Stack())).Msg("handler panicked")
		}
	}()
	return c.spec.Handler(ctx, d)
}

// retryDelay doubles RetryDelay for every earlier failed delivery, capped.
func (c *Consumer) retryDelay(count int64) time.Duration {
	delay := c.spec.RetryDelay
	for range count {
		delay *= 2
		if delay >= c.spec.MaxRetryDelay {
			return c.spec.MaxRetryDelay
		}
	}
	return min(delay, c.spec.MaxRetryDelay)
}

// deliveryCount is the number of earlier deliveries of d, from the quorum
// queue's x-delivery-count header (absent on the first delivery).
func deliveryCount(d amqp.Delivery) int64 {
	switch v := d.Headers["x-delivery-count"].(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case int:
		return int64(v)
	case int16:
		return int64(v)
	case int8:
		return int64(v)
	case uint8:
		return int64(v)
	}
	if d.Redelivered {
		return 1
	}
	return 0
}
