// Package dlq is the operator's view of the domain dead-letter queues (each
// consumer queue Q dead-letters into Q.dlq): count, inspect (messages are
// fetched and handed back, never consumed), replay into Q (each message acked
// only after the broker confirmed its republish) and purge.
package dlq

import (
	"context"
	"fmt"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"fundigo/pkg/amqpx"
)

// MaxLimit bounds how many messages one inspect or replay touches.
const MaxLimit = 10000

// Depth is one consumer queue and its dead-letter queue.
type Depth struct {
	Queue       string `json:"queue"`
	DLQ         string `json:"dlq"`
	Ready       int    `json:"ready"`
	DeadLetters int    `json:"dead_letters"`
}

// Message describes a dead-lettered message without its body (bodies may
// carry personal data; BodyBytes says how large it is).
type Message struct {
	MessageID   string    `json:"message_id"`
	Type        string    `json:"type,omitempty"`
	RoutingKey  string    `json:"routing_key"`
	Reason      string    `json:"reason,omitempty"`
	DeathCount  int64     `json:"death_count,omitempty"`
	DeadAt      time.Time `json:"dead_lettered_at,omitzero"`
	BodyBytes   int       `json:"body_bytes"`
	ContentType string    `json:"content_type,omitempty"`
}

// Depths reads the ready count of each queue and of its DLQ; a queue not
// declared yet shows -1.
func Depths(ctx context.Context, conn *amqpx.Conn, queues []string) ([]Depth, error) {
	out := make([]Depth, 0, len(queues))
	for _, q := range queues {
		d := Depth{Queue: q, DLQ: amqpx.DLQName(q), Ready: -1, DeadLetters: -1}
		for _, target := range []*int{&d.Ready, &d.DeadLetters} {
			name := q
			if target == &d.DeadLetters {
				name = d.DLQ
			}
			ch, err := conn.Channel(ctx)
			if err != nil {
				return nil, err
			}
			st, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
			_ = ch.Close()
			if err == nil {
				*target = st.Messages
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// Inspect returns up to limit messages of queue's DLQ and leaves them there.
func Inspect(ctx context.Context, conn *amqpx.Conn, queue string, limit int) ([]Message, error) {
	ch, err := conn.Channel(ctx)
	if err != nil {
		return nil, err
	}
	defer ch.Close() //nolint:errcheck // closing hands every fetched message back
	name := amqpx.DLQName(queue)
	var out []Message
	for len(out) < min(limit, MaxLimit) {
		d, ok, err := ch.Get(name, false)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if !ok {
			break
		}
		out = append(out, describe(d))
	}
	return out, nil
}

// Replay moves up to limit messages from queue's DLQ back into queue through
// the default exchange, headers as received minus the dead-letter ones. Only
// the messages there when it starts are looked at, so one dead-lettered again
// during the replay waits for the next one.
func Replay(ctx context.Context, conn *amqpx.Conn, pub *amqpx.Publisher, queue string, limit int) ([]Message, error) {
	ch, err := conn.Channel(ctx)
	if err != nil {
		return nil, err
	}
	defer ch.Close() //nolint:errcheck // closing hands back what was not replayed
	name := amqpx.DLQName(queue)
	st, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", name, err)
	}
	var done []Message
	for seen := 0; seen < st.Messages && len(done) < min(limit, MaxLimit); seen++ {
		d, ok, err := ch.Get(name, false)
		if err != nil {
			return done, fmt.Errorf("read %s: %w", name, err)
		}
		if !ok {
			break
		}
		headers := amqp.Table{}
		for k, v := range d.Headers {
			if k == "x-death" || strings.HasPrefix(k, "x-first-death-") || strings.HasPrefix(k, "x-last-death-") || k == "x-delivery-count" {
				continue
			}
			headers[k] = v
		}
		msg := amqp.Publishing{
			Headers: headers, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
			DeliveryMode: amqp.Persistent, Priority: d.Priority, CorrelationId: d.CorrelationId,
			ReplyTo: d.ReplyTo, MessageId: d.MessageId, Timestamp: d.Timestamp, Type: d.Type,
			AppId: d.AppId, Body: d.Body,
		}
		if err := pub.Publish(ctx, "", queue, msg); err != nil {
			return done, fmt.Errorf("republish %s to %s: %w", d.MessageId, queue, err)
		}
		if err := d.Ack(false); err != nil {
			return done, fmt.Errorf("ack %s in %s (it was republished; it may be replayed twice): %w", d.MessageId, name, err)
		}
		done = append(done, describe(d))
	}
	return done, nil
}

// Purge deletes every message of queue's DLQ and returns how many.
func Purge(ctx context.Context, conn *amqpx.Conn, queue string) (int, error) {
	ch, err := conn.Channel(ctx)
	if err != nil {
		return 0, err
	}
	defer ch.Close() //nolint:errcheck
	n, err := ch.QueuePurge(amqpx.DLQName(queue), false)
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", amqpx.DLQName(queue), err)
	}
	return n, nil
}

func describe(d amqp.Delivery) Message {
	m := Message{MessageID: d.MessageId, Type: d.Type, RoutingKey: d.RoutingKey, BodyBytes: len(d.Body), ContentType: d.ContentType}
	if r, ok := d.Headers["x-first-death-reason"].(string); ok {
		m.Reason = r
	}
	if deaths, ok := d.Headers["x-death"].([]any); ok && len(deaths) > 0 {
		if t, ok := deaths[0].(amqp.Table); ok {
			if c, ok := t["count"].(int64); ok {
				m.DeathCount = c
			}
			if ts, ok := t["time"].(time.Time); ok {
				m.DeadAt = ts
			}
			if rk, ok := t["routing-keys"].([]any); ok && len(rk) > 0 {
				if s, ok := rk[0].(string); ok {
					m.RoutingKey = s
				}
			}
		}
	}
	return m
}
