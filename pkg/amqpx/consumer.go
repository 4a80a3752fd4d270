package amqpx

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"fundigo/pkg/logging"
)

// HandlerFunc handles one delivery. Its return value, classified by
// outcome.Classify (the Classify middleware), decides the ack:
//   - nil, or already done (a duplicate, store.ErrStaleTransition): ack;
//   - permanent (outcome.Permanent, SQLSTATE class 22/23, a JSON decode
//     error): reject without requeue, so the queue dead-letters it;
//   - any other error, or a panic: redelivered after a delay (RetryDelays)
//     through a retry queue, without holding a handler slot while it waits;
//     the attempt after DeliveryLimit-1 retries dead-letters it instead.
//
// The handler must be idempotent (delivery is at-least-once) and must not ack
// the delivery itself. ctx carries a per-message zerolog logger
// (zerolog.Ctx) and the delivery's Info (InfoFrom), and ends after
// ConsumerSpec.HandlerTimeout; it is not cancelled by shutdown, so an
// in-flight message finishes and is acked. Domain code should not implement
// HandlerFunc directly: adapt a typed Handler[T] with JSON.
type HandlerFunc func(ctx context.Context, d amqp.Delivery) error

// DefaultRetryDelays are the pauses before the 1st, 2nd, … redelivery of a
// message whose handler failed with a retryable error; the last one repeats.
var DefaultRetryDelays = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 5 * time.Minute}

// Headers the consumer sets on a copy it sends through a retry queue.
const (
	// retriesHeader counts the failed attempts before this copy.
	retriesHeader = "x-amqpx-retries"
	// routingKeyHeader keeps the original routing key, which the trip
	// through the retry queue replaces with the queue name.
	routingKeyHeader = "x-amqpx-routing-key"
)

// ConsumerSpec declares one queue and how to consume it. Workers return these
// from their Consumers(deps) functions.
type ConsumerSpec struct {
	// Queue is the quorum queue to consume; it is declared (with its DLX, DLQ
	// and retry queues) and bound to Exchange with Bindings before consuming
	// starts.
	Queue    string
	Exchange string   // topic exchange the bindings are on (events.Exchange)
	Bindings []string // routing keys or patterns, e.g. "payment.*"

	// Concurrency is the number of handler goroutines. Default 1.
	Concurrency int
	// Prefetch bounds unacked deliveries held by this consumer (basic.qos).
	// Default 2×Concurrency.
	Prefetch int
	// DeliveryLimit is the number of attempts a message gets: a retryable
	// failure on the last one dead-letters it. It is also the queue's
	// x-delivery-limit, which bounds redeliveries of a message that crashes
	// its consumer. Default DefaultDeliveryLimit.
	DeliveryLimit int
	// HandlerTimeout bounds one handler call. Default 1m.
	HandlerTimeout time.Duration
	// RetryDelays are the pauses before successive redeliveries (the last
	// repeats). Default DefaultRetryDelays.
	RetryDelays []time.Duration

	// Name describes the handler in `fundigo worker --bindings`; default the
	// Go function behind Handler.
	Name string
	// Middleware wraps Handler, outermost first, between the consumer's own
	// Log (outside) and Classify and Recover (inside): an Observe hook here
	// sees classified results.
	Middleware []MiddlewareFunc
	Handler    HandlerFunc

	// BatchHandler, set instead of Handler, handles deliveries in batches:
	// each handler goroutine takes a delivery, then whatever further ones are
	// already waiting (up to MaxBatch, never waiting for more), calls
	// BatchHandler once and settles each delivery by its own result, exactly
	// as a Handler's (see BatchHandlerFunc).
	BatchHandler BatchHandlerFunc
	// MaxBatch bounds a batch. Default 100 with a BatchHandler.
	MaxBatch int
}

func (s *ConsumerSpec) setDefaults() {
	if s.Concurrency == 0 {
		s.Concurrency = 1
	}
	if s.BatchHandler != nil && s.MaxBatch == 0 {
		s.MaxBatch = DefaultMaxBatch
	}
	if s.Prefetch == 0 {
		// A batch consumer needs a batch's worth per goroutine, or its
		// batches stay small.
		s.Prefetch = 2 * s.Concurrency * max(s.MaxBatch, 1)
	}
	if s.DeliveryLimit == 0 {
		s.DeliveryLimit = DefaultDeliveryLimit
	}
	if s.HandlerTimeout == 0 {
		s.HandlerTimeout = time.Minute
	}
	if len(s.RetryDelays) == 0 {
		s.RetryDelays = DefaultRetryDelays
	}
}

// Validate reports every invalid field at once.
func (s ConsumerSpec) Validate() error {
	var errs []error
	if s.Queue == "" {
		errs = append(errs, errors.New("queue is empty"))
	}
	switch {
	case s.Handler == nil && s.BatchHandler == nil:
		errs = append(errs, errors.New("handler is nil"))
	case s.Handler != nil && s.BatchHandler != nil:
		errs = append(errs, errors.New("both handler and batch handler are set"))
	}
	if s.Concurrency < 0 || s.Prefetch < 0 || s.DeliveryLimit < 0 || s.MaxBatch < 0 {
		errs = append(errs, errors.New("concurrency, prefetch, delivery limit and max batch must not be negative"))
	}
	if s.Prefetch > 0 && s.Prefetch < s.Concurrency {
		errs = append(errs, errors.New("prefetch is below concurrency: handlers would idle"))
	}
	for _, d := range s.RetryDelays {
		if d < time.Millisecond {
			errs = append(errs, fmt.Errorf("retry delay %s is below 1ms", d))
			break
		}
	}
	if err := s.Topology().Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Topology is what the spec needs declared: its exchange (topic) and queue
// with its retry queue.
func (s ConsumerSpec) Topology() Topology {
	var t Topology
	if s.Exchange != "" {
		t.Exchanges = []Exchange{{Name: s.Exchange, Kind: amqp.ExchangeTopic}}
	}
	t.Queues = []Queue{{Name: s.Queue, Exchange: s.Exchange, Bindings: s.Bindings, DeliveryLimit: s.DeliveryLimit, Retry: true}}
	return t
}

// Consumer consumes one queue with manual acks, bounded prefetch and a bounded
// pool of handler goroutines, and resumes by itself after a reconnect.
type Consumer struct {
	conn    *Conn
	log     zerolog.Logger
	spec    ConsumerSpec
	handler HandlerFunc      // spec.Handler wrapped in the middleware chain
	batch   BatchHandlerFunc // spec.BatchHandler wrapped likewise (batch.go)
	retries *Publisher       // sends failed messages to the retry queues
}

// NewConsumer validates spec and returns a Consumer; Run starts it.
func NewConsumer(conn *Conn, log zerolog.Logger, spec ConsumerSpec) (*Consumer, error) {
	spec.setDefaults()
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("consumer %s: %w", spec.Queue, err)
	}
	retries, err := NewPublisher(conn, PublisherConfig{Mandatory: true})
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", spec.Queue, err)
	}
	c := &Consumer{
		conn:    conn,
		log:     log.With().Str("component", "amqp_consumer").Str(logging.FieldQueue, spec.Queue).Logger(),
		spec:    spec,
		retries: retries,
	}
	if spec.BatchHandler != nil {
		// Trace is per delivery around the batch (handleBatch); Recover is
		// per batch (recoverBatch).
		mws := make([]MiddlewareFunc, 0, len(spec.Middleware)+2)
		mws = append(mws, Log())
		mws = append(mws, spec.Middleware...)
		mws = append(mws, Classify())
		c.batch = WrapBatch(recoverBatch(spec.BatchHandler), mws...)
		return c, nil
	}
	mws := make([]MiddlewareFunc, 0, len(spec.Middleware)+4)
	mws = append(mws, Trace(), Log())
	mws = append(mws, spec.Middleware...)
	mws = append(mws, Classify(), Recover())
	c.handler = Chain(spec.Handler, mws...)
	return c, nil
}

// Run declares the queue and consumes until ctx ends, then cancels the
// subscription, lets the handlers finish and ack what they hold, and returns
// nil. It returns an error only if the topology cannot be declared (a
// configuration error such as mismatched queue arguments). Channel or
// connection loss is not an error: Run waits for the Conn and resumes.
func (c *Consumer) Run(ctx context.Context) error {
	defer func() {
		// Every handler has returned: no retry publish is in flight.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = c.retries.Close(cctx)
	}()
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
	acks := newAcker() // this channel's settled delivery tags (batch mode)
	for range c.spec.Concurrency {
		wg.Go(func() {
			if c.batch != nil {
				c.consumeBatches(ctx, lost, acks, deliveries)
				return
			}
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

// handle runs the handler chain on d and acks, rejects or redelivers it
// later. lost is closed when d's channel died: the broker requeues d by
// itself, so nothing is acked or published for it.
func (c *Consumer) handle(ctx context.Context, lost <-chan struct{}, d amqp.Delivery) {
	info := c.info(d)
	log := c.deliveryLog(Delivery{Delivery: d, Info: info})
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.spec.HandlerTimeout)
	err := c.call(WithInfo(log.WithContext(hctx), info), d)
	cancel()
	select {
	case <-lost:
		return
	default:
	}

	switch {
	case err == nil:
		if ackErr := d.Ack(false); ackErr != nil {
			log.Warn().Err(ackErr).Msg("ack failed; message will be redelivered")
		}
	case IsPermanent(err), info.Exhausted():
		reject(log, d) // logged by the Log middleware
	default:
		c.redeliverLater(ctx, log, d, info)
	}
}

// reject dead-letters d (no requeue); a failed reject leaves it to be
// redelivered.
func reject(log zerolog.Logger, d amqp.Delivery) {
	if err := d.Reject(false); err != nil {
		log.Warn().Err(err).Msg("reject failed; message will be redelivered")
	}
}

// redeliverLater sends a copy of d to the retry queue, with its attempt's
// delay as TTL, and acks
// d once the broker confirmed the copy, so the handler slot is free at once
// and the copy comes back after its delay behind the messages that arrived
// meanwhile. If the copy cannot be sent, d is requeued (the queue's delivery
// limit still bounds it).
func (c *Consumer) redeliverLater(ctx context.Context, log zerolog.Logger, d amqp.Delivery, info Info) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := c.retries.Publish(pctx, "", RetryQueueName(c.spec.Queue), c.retryCopy(d, info))
	c.afterRetryPublish(log, d, err)
}

// retryCopy is the copy of d redeliverLater sends through the retry queue:
// the same message, its attempt's delay as TTL, and the headers that carry
// its attempts and original routing key.
func (c *Consumer) retryCopy(d amqp.Delivery, info Info) amqp.Publishing {
	delay := c.spec.RetryDelays[min(info.Attempt-1, len(c.spec.RetryDelays)-1)]
	headers := make(amqp.Table, len(d.Headers)+2)
	for k, v := range d.Headers {
		if k != "x-delivery-count" {
			headers[k] = v
		}
	}
	headers[retriesHeader] = int64(info.Attempt)
	headers[routingKeyHeader] = info.RoutingKey
	return amqp.Publishing{
		Headers: headers, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
		DeliveryMode: amqp.Persistent, Priority: d.Priority, CorrelationId: d.CorrelationId,
		ReplyTo: d.ReplyTo, Expiration: strconv.FormatInt(delay.Milliseconds(), 10),
		MessageId: d.MessageId, Timestamp: d.Timestamp, Type: d.Type, UserId: d.UserId, AppId: d.AppId,
		Body: d.Body,
	}
}

// afterRetryPublish settles d once its retry copy was sent (err nil: ack)
// or could not be (requeue).
func (c *Consumer) afterRetryPublish(log zerolog.Logger, d amqp.Delivery, err error) {
	if err != nil {
		log.Warn().Err(err).Msg("send to retry queue failed; requeueing")
		if nackErr := d.Nack(false, true); nackErr != nil {
			log.Warn().Err(nackErr).Msg("nack failed; message will be redelivered")
		}
		return
	}
	if ackErr := d.Ack(false); ackErr != nil {
		// The copy is queued; the original comes back too. Handlers are
		// idempotent.
		log.Warn().Err(ackErr).Msg("ack after retry publish failed; message will be redelivered")
	}
}

// call invokes the handler chain, turning a panic that escaped a middleware
// into an ordinary (retryable) error.
func (c *Consumer) call(ctx context.Context, d amqp.Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
			zerolog.Ctx(ctx).Error().Str("stack", string(debug.Stack())).Msg("middleware panicked")
		}
	}()
	return c.handler(ctx, d)
}

// info is what handlers learn about d: its original routing key and its
// attempt number (failed attempts carried by earlier copies, plus broker
// redeliveries of this copy, plus one).
func (c *Consumer) info(d amqp.Delivery) Info {
	rk := d.RoutingKey
	if v, ok := d.Headers[routingKeyHeader].(string); ok && v != "" {
		rk = v
	}
	return Info{
		Queue:       c.spec.Queue,
		RoutingKey:  rk,
		MessageID:   d.MessageId,
		Attempt:     int(headerInt(d.Headers[retriesHeader])+deliveryCount(d)) + 1,
		MaxAttempts: c.spec.DeliveryLimit,
	}
}

// headerInt reads an AMQP integer header of any width (0 when absent).
func headerInt(v any) int64 {
	switch v := v.(type) {
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
	return 0
}

// deliveryCount is the number of earlier deliveries of d, from the quorum
// queue's x-delivery-count header (absent on the first delivery).
func deliveryCount(d amqp.Delivery) int64 {
	if n := headerInt(d.Headers["x-delivery-count"]); n > 0 {
		return n
	}
	if d.Redelivered {
		return 1
	}
	return 0
}
