package celerycompat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"fundigo/pkg/komburedis"
	"fundigo/pkg/logging"
)

// Publisher sends a message to a Celery broker: *amqpx.Publisher (which must
// be mandatory) on RabbitMQ, *RedisPublisher on kombu's Redis transport.
// Retries, dead letters and parked ETAs go through it, so both brokers
// share every task semantic.
type Publisher interface {
	Publish(ctx context.Context, exchange, routingKey string, msg amqp.Publishing) error
}

// RedisPublisher publishes AMQP-shaped messages as kombu envelopes on the
// Redis transport.
type RedisPublisher struct{ t *komburedis.Transport }

// NewRedisPublisher returns a Publisher on t.
func NewRedisPublisher(t *komburedis.Transport) *RedisPublisher { return &RedisPublisher{t: t} }

// Publish LPUSHes msg to the queue routingKey routes to (exchange "" sends
// to the queue of that name), in its priority's list.
func (p *RedisPublisher) Publish(ctx context.Context, exchange, routingKey string, msg amqp.Publishing) error {
	headers := map[string]any{}
	maps.Copy(headers, msg.Headers)
	env := komburedis.NewEnvelope(msg.Body, msg.ContentType, msg.ContentEncoding, headers,
		komburedis.Properties{CorrelationID: msg.CorrelationId, ReplyTo: msg.ReplyTo, Priority: int(msg.Priority)})
	return p.t.Publish(ctx, exchange, routingKey, env)
}

// redisAcker settles one Redis delivery: ack removes it from the unacked
// hash and index, a requeue puts it back at the end of its queue (kombu's
// reject with requeue). Without either, kombu's visibility restore brings
// it back after the visibility timeout.
type redisAcker struct {
	t   *komburedis.Transport
	tag string
}

func (a redisAcker) Ack(uint64, bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), durableTimeout)
	defer cancel()
	return a.t.Ack(ctx, a.tag)
}

func (a redisAcker) Nack(_ uint64, _ bool, requeue bool) error { return a.Reject(0, requeue) }

func (a redisAcker) Reject(_ uint64, requeue bool) error {
	if !requeue {
		return a.Ack(0, false)
	}
	ctx, cancel := context.WithTimeout(context.Background(), durableTimeout)
	defer cancel()
	return a.t.Restore(ctx, a.tag, true)
}

// redisDelivery presents a kombu envelope as the AMQP delivery the rest of
// the package processes (celery.Decode reads JSON header values as it reads
// py-amqp's), acked through the transport.
func redisDelivery(t *komburedis.Transport, d *komburedis.Delivery) (delivery, error) {
	env := d.Envelope
	body, err := env.DecodedBody()
	if err != nil {
		return delivery{}, err
	}
	headers := amqp.Table{}
	maps.Copy(headers, env.Headers)
	delete(headers, "redelivered") // kombu's restore mark, not a task header
	return delivery{queue: d.Queue, Delivery: amqp.Delivery{
		Acknowledger: redisAcker{t: t, tag: d.Tag}, Headers: headers,
		ContentType: env.ContentType, ContentEncoding: env.ContentEncoding,
		CorrelationId: env.Properties.CorrelationID, ReplyTo: env.Properties.ReplyTo,
		Priority: uint8(min(max(env.Properties.Priority, 0), 9)), DeliveryMode: uint8(env.Properties.DeliveryMode),
		Redelivered: env.Redelivered(), Exchange: env.Properties.DeliveryInfo.Exchange,
		RoutingKey: env.Properties.DeliveryInfo.RoutingKey, Body: body,
	}}, nil
}

// redisSession consumes the queues from kombu's Redis transport until ctx
// ends or Redis fails: one BRPOP loop takes messages (recording each as
// unacked) while at most Prefetch are held, Concurrency handlers run them,
// and a restorer returns messages unacked past the visibility timeout
// (ours after a crash, or a Python worker's) every RestoreEvery.
func (c *Consumer) redisSession(ctx context.Context) error {
	t := c.deps.Redis
	for _, q := range c.cfg.Queues {
		// As kombu declares Queue(name): exchange name, routing key name.
		if err := t.Bind(ctx, q, q, q); err != nil {
			return err
		}
	}
	merged := make(chan delivery)
	slots := make(chan struct{}, c.cfg.Prefetch)
	var handlers sync.WaitGroup
	for range c.cfg.Concurrency {
		handlers.Go(func() {
			for d := range merged {
				c.handle(ctx, nil, d)
				<-slots
			}
		})
	}
	restoreDone := make(chan struct{})
	go func() {
		defer close(restoreDone)
		c.restoreLoop(ctx)
	}()
	err := c.fetch(ctx, merged, slots)
	close(merged)
	handlers.Wait()
	<-restoreDone
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// fetch BRPOPs until ctx ends or Redis fails, holding a slot per message.
func (c *Consumer) fetch(ctx context.Context, out chan<- delivery, slots chan struct{}) error {
	t := c.deps.Redis
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		var got *komburedis.Delivery
		for got == nil {
			if ctx.Err() != nil {
				<-slots
				return nil
			}
			d, err := t.Receive(ctx, c.cfg.Queues, c.cfg.PollTimeout)
			if err != nil {
				<-slots
				return fmt.Errorf("receive from redis: %w", err)
			}
			got = d
		}
		if got.Err != nil {
			c.keepGarbage(ctx, got)
			<-slots
			continue
		}
		d, err := redisDelivery(t, got)
		if err != nil {
			// A body kombu could not decode either: dead-letter it as is.
			d = delivery{queue: got.Queue, Delivery: amqp.Delivery{Acknowledger: redisAcker{t: t, tag: got.Tag},
				Headers: amqp.Table{"id": got.Envelope.Properties.CorrelationID}, ContentType: "application/x-kombu-envelope",
				CorrelationId: got.Envelope.Properties.CorrelationID, Body: got.Raw}}
		}
		out <- d
	}
}

// keepGarbage dead-letters a list item that is not a kombu envelope (it was
// not recorded as unacked, so this is its only copy).
func (c *Consumer) keepGarbage(ctx context.Context, got *komburedis.Delivery) {
	log := c.log.With().Str(logging.FieldQueue, got.Queue).Logger()
	d := delivery{queue: got.Queue, Delivery: amqp.Delivery{ContentType: "application/octet-stream", Body: got.Raw}}
	for attempt := 0; ; attempt++ {
		err := c.deadLetter(ctx, d, got.Err.Error())
		if err == nil {
			log.Error().Err(got.Err).Msg("not a kombu message; dead-lettered")
			return
		}
		if attempt >= 5 {
			log.Error().Err(errors.Join(got.Err, err)).Int("bytes", len(got.Raw)).Msg("not a kombu message and not dead-lettered; dropped")
			return
		}
		time.Sleep(c.cfg.RequeueDelay)
	}
}

// restoreLoop runs kombu's restore_visible every RestoreEvery until ctx ends.
func (c *Consumer) restoreLoop(ctx context.Context) {
	tick := time.NewTicker(c.cfg.RestoreEvery)
	defer tick.Stop()
	for {
		n, err := c.deps.Redis.RestoreVisible(ctx)
		switch {
		case errors.Is(err, komburedis.ErrMutexHeld), ctx.Err() != nil:
		case err != nil:
			c.log.Warn().Err(err).Msg("restore of unacked celery messages failed")
		case n > 0:
			c.log.Warn().Int("restored", n).Dur("visibility_timeout", c.deps.Redis.Options().VisibilityTimeout).
				Msg("celery messages unacked past the visibility timeout restored to their queues")
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// ListRedisDeadLetters returns up to limit messages of the dead-letter list
// queue on the Redis broker without removing them, oldest first.
func ListRedisDeadLetters(ctx context.Context, t *komburedis.Transport, queue string, limit int) ([]DeadLetter, error) {
	_, raws, err := t.Peek(ctx, queue, limit)
	if err != nil {
		return nil, fmt.Errorf("read dead-letter list %s: %w", queue, err)
	}
	out := make([]DeadLetter, 0, len(raws))
	for _, raw := range raws {
		_, dl := decodeDeadLetter(raw)
		out = append(out, dl)
	}
	return out, nil
}

// decodeDeadLetter decodes one item of a dead-letter list and describes it
// (an item that is not a kombu envelope is described as such).
func decodeDeadLetter(raw string) (komburedis.Envelope, DeadLetter) {
	var env komburedis.Envelope
	if err := json.Unmarshal([]byte(raw), &env); err != nil {
		return env, DeadLetter{Reason: "not a kombu message", Bytes: len(raw)}
	}
	body, _ := env.DecodedBody() // a body that is not base64 counts as empty
	return env, describe(amqp.Delivery{Headers: env.Headers, CorrelationId: env.Properties.CorrelationID, Body: body})
}

// ReplayRedisDeadLetters moves up to limit messages of the dead-letter list
// queue for which match returns true back to the queue they came from
// (headers minus the dead-letter ones), each atomically (removed and pushed
// in one script). Only the messages there when it starts are looked at.
func ReplayRedisDeadLetters(ctx context.Context, t *komburedis.Transport, queue string, limit int,
	match func(DeadLetter) bool) ([]DeadLetter, error) {
	n, err := t.Len(ctx, queue)
	if err != nil {
		return nil, fmt.Errorf("read dead-letter list %s: %w", queue, err)
	}
	keys, raws, err := t.Peek(ctx, queue, int(n))
	if err != nil {
		return nil, fmt.Errorf("read dead-letter list %s: %w", queue, err)
	}
	var replayed []DeadLetter
	for i, raw := range raws {
		if len(replayed) >= limit {
			break
		}
		env, dl := decodeDeadLetter(raw)
		if !match(dl) {
			continue
		}
		if dl.Queue == "" {
			return replayed, errors.New("dead letter " + dl.ID + " does not say which queue it came from")
		}
		for _, k := range []string{HeaderDeadLetterQueue, HeaderDeadLetterReason, HeaderDeadLetteredAt} {
			delete(env.Headers, k)
		}
		env.Properties.DeliveryInfo = komburedis.DeliveryInfo{RoutingKey: dl.Queue}
		next, err := json.Marshal(env)
		if err != nil {
			return replayed, err
		}
		moved, err := t.Move(ctx, keys[i], raw, dl.Queue, env.Properties.Priority, next)
		if err != nil {
			return replayed, fmt.Errorf("replay %s to %s: %w", dl.ID, dl.Queue, err)
		}
		if moved {
			replayed = append(replayed, dl)
		}
	}
	return replayed, nil
}
