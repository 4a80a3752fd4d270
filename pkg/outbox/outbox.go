// Package outbox is the transactional outbox (ARCHITECTURE.md guarantee 3):
// Write inserts an event in the caller's transaction, so it exists if and only
// if the state change it describes committed, and a Relay publishes the
// committed rows to RabbitMQ.
//
// # Ack timing
//
// A row is marked published only after the broker confirmed its message
// (publisher confirms), in the same transaction that claimed it. A failed or
// unconfirmed publish leaves the row pending (attempts and last_error updated,
// retried after a backoff), so nothing committed is ever dropped.
//
// # Idempotency
//
// Delivery is at-least-once: a relay that crashes, or whose commit fails,
// after the broker confirmed will publish those rows again. Every message
// carries the row's message_id as its AMQP MessageId, and consumers dedupe on
// it (or on a domain key). Write is idempotent on Message.ID: a second Write
// with the same ID is a no-op.
//
// # Concurrency
//
// Write is safe wherever its pgx.Tx is. Any number of Relays (in one process
// or many) may run on the same table: each claims its batch with
// SELECT … FOR UPDATE SKIP LOCKED, so no row is published by two relays at
// once. Ordering across relays, and after a retry, is not preserved.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"fundigo/pkg/store"
	"fundigo/pkg/tracing"
)

// NotifyChannel is the PostgreSQL LISTEN/NOTIFY channel that wakes the
// relay after a commit that wrote outbox rows. Writers ask for it through
// pkg/store (NotifyOnCommit, Notify), never inside their transaction: see
// pkg/store/notify.go for why (migration 00062 dropped the trigger that did).
const NotifyChannel = "fundigo_outbox"

// Event is a domain event that knows its own routing key and its
// deterministic message id (the pkg/events types do), so writing it names
// nothing else: the exchange is the relay's (RelayConfig.Exchange).
type Event interface {
	RoutingKey() string
	MessageID() string
}

// EventMessage is the outbox message of ev: its JSON as the payload, its
// routing key as the routing key and AMQP type, its message id as the id.
func EventMessage(ev Event) (Message, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return Message{}, fmt.Errorf("encode %s %s: %w", ev.RoutingKey(), ev.MessageID(), err)
	}
	return Message{ID: ev.MessageID(), RoutingKey: ev.RoutingKey(), Type: ev.RoutingKey(), Payload: payload}, nil
}

// WriteEvent writes ev (see EventMessage) inside tx, like Write.
func WriteEvent(ctx context.Context, tx pgx.Tx, ev Event) error {
	m, err := EventMessage(ev)
	if err != nil {
		return err
	}
	return Write(ctx, tx, m)
}

// Message is one message to publish, to the exchange of the relay that
// publishes it.
type Message struct {
	// ID becomes the AMQP MessageId and is unique in the outbox. Prefer a
	// deterministic ID ("payment.paid:<payment_id>") so writing the same event
	// twice publishes it once. Empty means a random UUID.
	ID          string
	RoutingKey  string
	Type        string // AMQP Type; usually the routing key
	ContentType string // default "application/json"
	Payload     []byte
	Headers     map[string]string
}

func (m Message) validate() error {
	var errs []error
	if m.RoutingKey == "" {
		errs = append(errs, errors.New("routing key is empty"))
	}
	if m.Payload == nil {
		errs = append(errs, errors.New("payload is nil"))
	}
	return errors.Join(errs...)
}

// normalize validates msg, fills its defaults and encodes its headers.
func (m *Message) normalize() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("write outbox message %s: %w", m.ID, err)
	}
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	if m.ContentType == "" {
		m.ContentType = "application/json"
	}
	headers := []byte("{}")
	if len(m.Headers) > 0 {
		var err error
		if headers, err = json.Marshal(m.Headers); err != nil {
			return nil, fmt.Errorf("write outbox message %s: encode headers: %w", m.ID, err)
		}
	}
	return headers, nil
}

// WriteBatch inserts msgs into the outbox inside tx with one statement (one
// round trip however many messages: the webhook inbox writes a whole grouped
// commit's notices this way). Same rules as Write for each message.
//
// A message without a traceparent header gets ctx's trace context (W3C
// traceparent, tracestate, baggage), so the relay's publish and the
// consumers continue the trace that wrote the event.
func WriteBatch(ctx context.Context, tx pgx.Tx, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	msgs = withTrace(ctx, msgs)
	args, err := batchArgs(msgs)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, insertBatchSQL, args...); err != nil {
		return fmt.Errorf("write %d outbox messages: %w", len(msgs), err)
	}
	return store.NotifyOnCommit(ctx, tx, NotifyChannel)
}

// QueueBatch is WriteBatch for a pgx.Batch that the caller sends inside its
// transaction, so the insert shares a round trip with the caller's other
// statements. It has no context: a message carries the trace context its
// Headers hold (see WithTrace). It adds nothing for no messages; otherwise it adds one
// statement whose result the caller reads (Exec) in its turn. The caller
// wakes the relay after its commit: store.Notify(pool, NotifyChannel), or
// store.NotifyOnCommit inside WithTx.
func QueueBatch(b *pgx.Batch, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	args, err := batchArgs(msgs)
	if err != nil {
		return err
	}
	b.Queue(insertBatchSQL, args...)
	return nil
}

const insertBatchSQL = `
		INSERT INTO outbox (message_id, routing_key, message_type, content_type, headers, payload)
		SELECT id, rk, mt, ct, h::jsonb, p
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[])
		     AS m(id, rk, mt, ct, h, p)
		ON CONFLICT (message_id) DO NOTHING`

func batchArgs(msgs []Message) ([]any, error) {
	ids, keys, types, cts, headers := make([]string, len(msgs)), make([]string, len(msgs)),
		make([]string, len(msgs)), make([]string, len(msgs)), make([]string, len(msgs))
	payloads := make([][]byte, len(msgs))
	for i := range msgs {
		m := msgs[i]
		h, err := m.normalize()
		if err != nil {
			return nil, err
		}
		ids[i], keys[i], types[i], cts[i], headers[i], payloads[i] =
			m.ID, m.RoutingKey, m.Type, m.ContentType, string(h), m.Payload
	}
	return []any{ids, keys, types, cts, headers, payloads}, nil
}

// Write inserts msg into the outbox inside tx. It is published only if tx
// commits. A message whose ID is already in the outbox is ignored.
func Write(ctx context.Context, tx pgx.Tx, msg Message) error {
	return WriteBatch(ctx, tx, []Message{msg})
}

// withTrace returns msgs where every message lacking a traceparent carries
// ctx's trace context; msgs itself (and its header maps) are not modified.
func withTrace(ctx context.Context, msgs []Message) []Message {
	h := tracing.Headers(ctx)
	if h == nil {
		return msgs
	}
	var out []Message
	for i := range msgs {
		if tracing.HasContext(msgs[i].Headers) {
			continue
		}
		if out == nil {
			out = slices.Clone(msgs)
		}
		out[i].Headers = WithTrace(ctx, msgs[i].Headers)
	}
	if out == nil {
		return msgs
	}
	return out
}

// WithTrace returns a copy of headers with ctx's trace context (W3C
// traceparent, tracestate, baggage) added, replacing any it had.
func WithTrace(ctx context.Context, headers map[string]string) map[string]string {
	out := maps.Clone(headers)
	if out == nil {
		out = map[string]string{}
	}
	tracing.Inject(ctx, out)
	return out
}
