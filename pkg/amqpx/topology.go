package amqpx

import (
	"errors"
	"fmt"
	"slices"

	amqp "github.com/rabbitmq/amqp091-go"
)

// DefaultDeliveryLimit is the number of attempts a message gets before a
// retryable failure dead-letters it; the quorum queue's x-delivery-limit (the
// guard against a message that crashes its consumer) has the same value.
const DefaultDeliveryLimit = 20

// Topology is a set of durable exchanges and quorum queues. A Conn declares
// every Topology it was given on each (re)connect, so declaring must be
// idempotent: the same Topology always produces the same broker objects.
type Topology struct {
	Exchanges []Exchange
	Queues    []Queue
}

// Exchange is a durable exchange. Kind defaults to "topic".
type Exchange struct {
	Name string
	Kind string
}

// Queue is a durable quorum queue bound to Exchange with Bindings (routing keys
// or topic patterns). Each queue gets its own dead-letter exchange
// (DLXName(Name), fanout) and dead-letter queue (DLQName(Name), quorum);
// rejected messages and messages over DeliveryLimit end up there, moved
// at-least-once (x-dead-letter-strategy), so nothing dead-lettered is dropped.
type Queue struct {
	Name          string
	Exchange      string
	Bindings      []string
	DeliveryLimit int // 0 means DefaultDeliveryLimit
	// Retry declares RetryQueueName(Name): a classic queue that holds a
	// failed message for its per-message TTL (the retry delay), then
	// dead-letters it back to Name through the default exchange. Classic, not
	// quorum: it holds few messages briefly, and a quorum queue costs a Raft
	// log and file handles per queue.
	Retry bool
}

// RetryQueueName is the retry (delay) queue of queue.
func RetryQueueName(queue string) string { return queue + ".retry" }

// QueueNames lists every queue declared for queue (itself, its DLQ and its
// retry queue), for tools and tests that delete what they declared; the one
// exchange is DLXName(queue).
func QueueNames(queue string) []string {
	return []string{queue, DLQName(queue), RetryQueueName(queue)}
}

// DLXName is the dead-letter exchange of queue.
func DLXName(queue string) string { return queue + ".dlx" }

// DLQName is the dead-letter queue of queue, where operators inspect and
// replay poison messages.
func DLQName(queue string) string { return queue + ".dlq" }

// Validate reports every missing name at once.
func (t Topology) Validate() error {
	var errs []error
	for i, e := range t.Exchanges {
		if e.Name == "" {
			errs = append(errs, fmt.Errorf("exchange %d: empty name", i))
		}
	}
	for i, q := range t.Queues {
		if q.Name == "" {
			errs = append(errs, fmt.Errorf("queue %d: empty name", i))
		}
		if len(q.Bindings) > 0 && q.Exchange == "" {
			errs = append(errs, fmt.Errorf("queue %q: bindings without an exchange", q.Name))
		}
		if q.DeliveryLimit < 0 {
			errs = append(errs, fmt.Errorf("queue %q: negative delivery limit", q.Name))
		}
	}
	return errors.Join(errs...)
}

// merge adds other's objects to t, replacing entries with the same name.
func (t *Topology) merge(other Topology) {
	for _, e := range other.Exchanges {
		i := slices.IndexFunc(t.Exchanges, func(x Exchange) bool { return x.Name == e.Name })
		if i >= 0 {
			t.Exchanges[i] = e
		} else {
			t.Exchanges = append(t.Exchanges, e)
		}
	}
	for _, q := range other.Queues {
		i := slices.IndexFunc(t.Queues, func(x Queue) bool { return x.Name == q.Name })
		if i >= 0 {
			t.Queues[i] = q
		} else {
			t.Queues = append(t.Queues, q)
		}
	}
}

func (t Topology) clone() Topology {
	return Topology{Exchanges: slices.Clone(t.Exchanges), Queues: slices.Clone(t.Queues)}
}

// queueArgs are the arguments every main queue is declared with. They must not
// change between declarations: RabbitMQ refuses a redeclare with different
// arguments (PRECONDITION_FAILED).
func queueArgs(q Queue) amqp.Table {
	limit := q.DeliveryLimit
	if limit == 0 {
		limit = DefaultDeliveryLimit
	}
	return amqp.Table{
		amqp.QueueTypeArg:        amqp.QueueTypeQuorum,
		"x-dead-letter-exchange": DLXName(q.Name),
		"x-delivery-limit":       int64(limit),
		"x-dead-letter-strategy": "at-least-once",
		amqp.QueueOverflowArg:    amqp.QueueOverflowRejectPublish,
	}
}

// retryQueueArgs are the arguments of the retry queue of q: an expired
// message goes back to q (default exchange, routing key q). The delay is the
// message's own TTL, not an argument, so changing the delays never makes a
// redeclare fail. A classic queue expires messages at its head only, so a
// message waits at most for the longer delay of one queued ahead of it.
func retryQueueArgs(q Queue) amqp.Table {
	return amqp.Table{
		amqp.QueueTypeArg:           amqp.QueueTypeClassic,
		"x-dead-letter-exchange":    "",
		"x-dead-letter-routing-key": q.Name,
	}
}

// declare creates t on ch. The first error closes the channel (AMQP semantics)
// and is returned.
func declare(ch *amqp.Channel, t Topology) error {
	for _, e := range t.Exchanges {
		kind := e.Kind
		if kind == "" {
			kind = amqp.ExchangeTopic
		}
		if err := ch.ExchangeDeclare(e.Name, kind, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %s: %w", e.Name, err)
		}
	}
	for _, q := range t.Queues {
		if err := declareQueue(ch, q); err != nil {
			return err
		}
	}
	return nil
}

func declareQueue(ch *amqp.Channel, q Queue) error {
	dlx, dlq := DLXName(q.Name), DLQName(q.Name)
	if err := ch.ExchangeDeclare(dlx, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", dlx, err)
	}
	dlqArgs := amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}
	if _, err := ch.QueueDeclare(dlq, true, false, false, false, dlqArgs); err != nil {
		return fmt.Errorf("declare queue %s: %w", dlq, err)
	}
	if err := ch.QueueBind(dlq, "", dlx, false, nil); err != nil {
		return fmt.Errorf("bind queue %s to %s: %w", dlq, dlx, err)
	}
	if _, err := ch.QueueDeclare(q.Name, true, false, false, false, queueArgs(q)); err != nil {
		return fmt.Errorf("declare queue %s: %w", q.Name, err)
	}
	if q.Retry {
		if _, err := ch.QueueDeclare(RetryQueueName(q.Name), true, false, false, false, retryQueueArgs(q)); err != nil {
			return fmt.Errorf("declare queue %s: %w", RetryQueueName(q.Name), err)
		}
	}
	for _, key := range q.Bindings {
		if err := ch.QueueBind(q.Name, key, q.Exchange, false, nil); err != nil {
			return fmt.Errorf("bind queue %s to %s with %q: %w", q.Name, q.Exchange, key, err)
		}
	}
	return nil
}
