package amqpx

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"fundigo/pkg/logging"
)

// consumeBatches is one handler goroutine of a batch consumer: it takes a
// delivery, then whatever further ones are already waiting (up to
// MaxBatch; it never waits for more), and handles them as one batch.
func (c *Consumer) consumeBatches(ctx context.Context, lost <-chan struct{}, acks *acker, deliveries <-chan amqp.Delivery) {
	batch := make([]amqp.Delivery, 0, c.spec.MaxBatch)
	for d := range deliveries {
		batch = append(batch[:0], d)
		for len(batch) < c.spec.MaxBatch {
			d, ok := takeWaiting(deliveries)
			if !ok {
				break
			}
			batch = append(batch, d)
		}
		c.handleBatch(ctx, lost, acks, batch)
	}
}

// takeWaiting returns a delivery that is already waiting, without waiting
// for a new one. amqp091 hands deliveries over one at a time from its own
// buffer goroutine, which must run again after each hand-over before it
// offers the next: one yield lets it, so a backlog is not mistaken for an
// empty queue.
func takeWaiting(deliveries <-chan amqp.Delivery) (amqp.Delivery, bool) {
	select {
	case d, ok := <-deliveries:
		return d, ok
	default:
	}
	runtime.Gosched()
	select {
	case d, ok := <-deliveries:
		return d, ok
	default:
		return amqp.Delivery{}, false
	}
}

// handleBatch runs the batch handler chain on ds and settles each delivery
// by its own result, as handle does one delivery. lost is closed when the
// channel died: the broker requeues the deliveries by itself.
func (c *Consumer) handleBatch(ctx context.Context, lost <-chan struct{}, acks *acker, ds []amqp.Delivery) {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.spec.HandlerTimeout)
	defer cancel()
	bctx = context.WithValue(c.log.WithContext(bctx), startKey{}, time.Now())
	batch := make([]Delivery, len(ds))
	ctxs := make([]context.Context, len(ds))
	var spans []trace.Span // with tracing on
	for i, d := range ds {
		info := c.info(d)
		batch[i] = Delivery{Delivery: d, Info: info}
		log := c.deliveryLog(batch[i])
		ictx, span := startSpan(WithInfo(log.WithContext(bctx), info), d)
		ctxs[i] = ictx
		if span != nil {
			if spans == nil {
				spans = make([]trace.Span, len(ds))
			}
			spans[i] = span
		}
	}
	errs := results(c.batch(context.WithValue(bctx, batchContextsKey{}, batchContexts{first: &batch[0], ctxs: ctxs}), batch), len(batch))
	for i, span := range spans {
		if span != nil {
			recordResult(span, errs[i])
			span.End()
		}
	}
	select {
	case <-lost:
		return
	default:
	}
	c.settleBatch(ctx, acks, batch, errs)
}

// settleBatch settles each delivery of batch by its (classified) result
// with handle's rules: failures first, one by one (dead-letter, or a copy
// through the retry queue, all copies of the batch published together),
// then the successes, with one multiple ack where that is safe.
func (c *Consumer) settleBatch(ctx context.Context, acks *acker, batch []Delivery, errs []error) {
	ok := make([]amqp.Delivery, 0, len(batch))
	var retry []Delivery
	for i, err := range errs {
		d := batch[i]
		switch {
		case err == nil:
			ok = append(ok, d.Delivery)
		case IsPermanent(err), d.Info.Exhausted():
			reject(c.deliveryLog(d), d.Delivery) // logged by the Log middleware
			acks.settled(d.DeliveryTag)
		default:
			retry = append(retry, d)
		}
	}
	if len(retry) > 0 {
		msgs := make([]Message, len(retry))
		for i, d := range retry {
			msgs[i] = Message{RoutingKey: RetryQueueName(c.spec.Queue), Publishing: c.retryCopy(d.Delivery, d.Info)}
		}
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		perrs := c.retries.PublishBatch(pctx, msgs)
		cancel()
		for i, d := range retry {
			c.afterRetryPublish(c.deliveryLog(d), d.Delivery, perrs[i])
			acks.settled(d.DeliveryTag)
		}
	}
	if err := acks.ack(ok); err != nil {
		c.log.Warn().Err(err).Int("messages", len(ok)).Msg("ack failed; messages will be redelivered")
	}
}

// deliveryLog is the consumer's logger for one delivery.
func (c *Consumer) deliveryLog(d Delivery) zerolog.Logger {
	return c.log.With().Str(logging.FieldRoutingKey, d.Info.RoutingKey).Str("message_id", d.MessageId).Logger()
}

// acker records which delivery tags of one channel are settled, so a batch
// consumer acks a run of successes with one multiple ack only when no
// delivery below it is still unsettled: held by another handler goroutine,
// failed, or waiting for its retry copy. (A multiple ack settles every
// unsettled tag up to it, and settling a tag twice is a channel error.)
// Tags on a channel start at 1 and grow by one per delivery; the channel
// runs one subscription. Safe for concurrent use.
type acker struct {
	mu    sync.Mutex
	floor uint64              // every tag ≤ floor is settled
	done  map[uint64]struct{} // settled tags above floor
}

func newAcker() *acker { return &acker{done: map[uint64]struct{}{}} }

// settled records a tag settled by the caller (reject, nack, single ack);
// call it after the settle was sent.
func (a *acker) settled(tag uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.done[tag] = struct{}{}
	a.advance()
}

func (a *acker) advance() {
	for {
		if _, ok := a.done[a.floor+1]; !ok {
			return
		}
		delete(a.done, a.floor+1)
		a.floor++
	}
}

// ack acks ds: handled deliveries of one batch, in tag order, not settled
// otherwise. Those that continue the settled run above the floor (every tag
// below each is settled or in ds) are acked with one multiple ack of the
// last of them; the others one by one.
func (a *acker) ack(ds []amqp.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	run, next := 0, a.floor+1
	for run < len(ds) {
		tag := ds[run].DeliveryTag
		for next < tag {
			if _, ok := a.done[next]; !ok {
				break
			}
			next++
		}
		if next != tag {
			break
		}
		run++
		next++
	}
	var errs []error
	if run > 0 {
		if err := ds[run-1].Ack(true); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range ds[run:] {
		if err := d.Ack(false); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range ds {
		a.done[d.DeliveryTag] = struct{}{}
	}
	a.advance()
	return errors.Join(errs...)
}
