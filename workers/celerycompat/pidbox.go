package celerycompat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/celery"
	"fundigo/pkg/komburedis"
)

// Celery's control_queue_expires and control_queue_ttl defaults: the node
// queue disappears this long after its consumer has gone, and a command
// nobody took within the TTL is dropped.
const (
	controlQueueExpires = 10 * time.Second
	controlQueueTTL     = 300 * time.Second
)

// controlReplyTimeout bounds sending one reply; clients stop collecting
// after 1s by default anyway.
const controlReplyTimeout = 2 * time.Second

// mailbox is one broker's end of Celery's remote control (kombu's pidbox):
// commands arrive on the <namespace>.pidbox fanout exchange, replies go to
// the exchange and routing key the command names.
type mailbox interface {
	// listen passes each command message to handle, in order, until ctx
	// ends (nil) or the broker fails (the error).
	listen(ctx context.Context, handle func(body []byte, headers map[string]any)) error
	// reply sends one reply; a reply nobody waits for any more is dropped.
	reply(ctx context.Context, exchange, routingKey string, headers map[string]any, body []byte) error
}

// amqpMailbox consumes the node queue <hostname>.<namespace>.pidbox, bound
// to the fanout exchange <namespace>.pidbox, both declared as kombu's
// Mailbox declares them (transient, the queue auto-delete and expiring),
// with no acks, as Celery's worker does.
type amqpMailbox struct {
	conn     *amqpx.Conn
	pub      *amqpx.Publisher // not mandatory: a late reply is dropped
	exchange string
	queue    string
}

func (a amqpMailbox) listen(ctx context.Context, handle func([]byte, map[string]any)) error {
	ch, err := a.conn.Channel(ctx)
	if err != nil {
		return err
	}
	defer ch.Close() //nolint:errcheck // may already be closed by the broker
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := ch.ExchangeDeclare(a.exchange, amqp.ExchangeFanout, false, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", a.exchange, err)
	}
	args := amqp.Table{"x-expires": int32(controlQueueExpires.Milliseconds()),
		"x-message-ttl": int32(controlQueueTTL.Milliseconds())}
	if _, err := ch.QueueDeclare(a.queue, false, true, false, false, args); err != nil {
		return fmt.Errorf("declare queue %s: %w", a.queue, err)
	}
	if err := ch.QueueBind(a.queue, "", a.exchange, false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", a.queue, err)
	}
	ds, err := ch.Consume(a.queue, "", true, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", a.queue, err)
	}
	for {
		select {
		case d, ok := <-ds:
			if !ok {
				if amqpErr := <-closed; amqpErr != nil {
					return amqpErr
				}
				return errors.New("pidbox channel closed")
			}
			handle(d.Body, d.Headers)
		case <-ctx.Done():
			return nil
		}
	}
}

func (a amqpMailbox) reply(ctx context.Context, exchange, routingKey string, headers map[string]any, body []byte) error {
	return a.pub.Publish(ctx, exchange, routingKey, amqp.Publishing{ContentType: celery.ContentTypeJSON,
		ContentEncoding: "utf-8", DeliveryMode: amqp.Transient, Headers: headers, Body: body})
}

// redisMailbox subscribes to the fanout channel of <namespace>.pidbox, as a
// kombu node queue bound to it listens, and LPUSHes replies to the reply
// queue bound to the reply exchange with the reply's routing key.
type redisMailbox struct {
	t        *komburedis.Transport
	exchange string
}

func (r redisMailbox) listen(ctx context.Context, handle func([]byte, map[string]any)) error {
	sub, err := r.t.SubscribeFanout(ctx, r.exchange, "")
	if err != nil {
		return err
	}
	defer sub.Close() //nolint:errcheck // nothing to flush
	msgs := sub.Channel()
	for {
		select {
		case msg, ok := <-msgs:
			if !ok {
				return errors.New("pidbox subscription closed")
			}
			var env komburedis.Envelope
			if err := json.Unmarshal([]byte(msg.Payload), &env); err != nil {
				handle(nil, nil) // counted as not understood
				continue
			}
			body, err := env.DecodedBody()
			if err != nil {
				body = nil
			}
			handle(body, env.Headers)
		case <-ctx.Done():
			return nil
		}
	}
}

func (r redisMailbox) reply(ctx context.Context, exchange, routingKey string, headers map[string]any, body []byte) error {
	env := komburedis.NewEnvelope(body, celery.ContentTypeJSON, "utf-8", headers, komburedis.Properties{DeliveryMode: 1})
	_, err := r.t.PublishBound(ctx, exchange, routingKey, env)
	return err
}

// mailbox is the broker's pidbox for this worker.
func (c *Consumer) mailbox() mailbox {
	exchange := c.cfg.ControlExchange + ".pidbox"
	if c.deps.Redis != nil {
		return redisMailbox{t: c.deps.Redis, exchange: exchange}
	}
	return amqpMailbox{conn: c.deps.Conn, pub: c.plain, exchange: exchange,
		queue: c.cfg.Hostname + "." + c.cfg.ControlExchange + ".pidbox"}
}

// remoteControl answers Celery's remote control (celery inspect, celery
// control) until ctx ends, resuming after broker failures.
func (c *Consumer) remoteControl(ctx context.Context, mb mailbox) {
	bo := &backoff.ExponentialBackOff{InitialInterval: 100 * time.Millisecond, RandomizationFactor: 0.2,
		Multiplier: 2, MaxInterval: 5 * time.Second}
	bo.Reset()
	for {
		started := time.Now()
		err := mb.listen(ctx, func(body []byte, headers map[string]any) { c.onControl(ctx, mb, body, headers) })
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > time.Minute {
			bo.Reset()
		}
		delay := bo.NextBackOff()
		c.log.Warn().Err(err).Dur("retry_in", delay).Msg("celery remote control interrupted; resuming")
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
	}
}

// onControl handles one command message: kombu's Node.handle_message.
func (c *Consumer) onControl(ctx context.Context, mb mailbox, body []byte, headers map[string]any) {
	if seen, ok := headerInt(headers["clock"]); ok {
		c.state.adjust(seen)
	} else {
		c.state.forward()
	}
	var cmd controlCommand
	if err := json.Unmarshal(body, &cmd); err != nil || cmd.Method == "" {
		c.log.Warn().Int("bytes", len(body)).Msg("celery remote control message not understood; ignored")
		return
	}
	if !cmd.forUs(c.cfg.Hostname) {
		return
	}
	reply := c.control(cmd)
	c.log.Debug().Str("method", cmd.Method).Bool("reply", cmd.ReplyTo != nil).Msg("celery remote control command")
	if cmd.ReplyTo == nil || cmd.ReplyTo.Exchange == "" {
		return
	}
	b, err := json.Marshal(map[string]any{c.cfg.Hostname: reply})
	if err != nil {
		b, _ = json.Marshal(map[string]any{c.cfg.Hostname: map[string]any{"error": err.Error()}})
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), controlReplyTimeout)
	defer cancel()
	err = mb.reply(rctx, cmd.ReplyTo.Exchange, cmd.ReplyTo.RoutingKey,
		map[string]any{"ticket": cmd.Ticket, "clock": c.state.forward()}, b)
	if err != nil {
		c.log.Debug().Err(err).Str("method", cmd.Method).Msg("celery remote control reply not sent")
	}
}

// headerInt reads an integer header as py-amqp (int64, int32…) or JSON
// (float64) carries it.
func headerInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case int:
		return int64(x), true
	case float64:
		return int64(x), true
	default:
		return 0, false
	}
}
