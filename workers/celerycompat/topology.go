package celerycompat

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"fundigo/pkg/amqpx"
)

// declareKombu declares queue as kombu declares Queue(name) for Celery: a
// durable direct exchange and a durable queue of the same name, no
// arguments, bound with the name. Python clients declare the same before
// publishing, so the two never disagree. If the broker refuses (the queue
// exists with other arguments, e.g. x-max-priority or x-queue-type set by
// the Django side: 406 PRECONDITION_FAILED), the queue is checked passively
// instead and consumed as it is. Each attempt uses its own channel, since a
// refusal closes the channel.
func declareKombu(ctx context.Context, conn *amqpx.Conn, log zerolog.Logger, queue string) error {
	err := withChannel(ctx, conn, func(ch *amqp.Channel) error {
		if err := ch.ExchangeDeclare(queue, amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %s: %w", queue, err)
		}
		if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare queue %s: %w", queue, err)
		}
		if err := ch.QueueBind(queue, queue, queue, false, nil); err != nil {
			return fmt.Errorf("bind queue %s: %w", queue, err)
		}
		return nil
	})
	if !isRefusal(err) {
		return err
	}
	log.Warn().Err(err).Str("queue", queue).Msg("celery queue exists with other arguments; consuming it as it is")
	return withChannel(ctx, conn, func(ch *amqp.Channel) error {
		if _, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil); err != nil {
			return fmt.Errorf("check queue %s: %w", queue, err)
		}
		return nil
	})
}

// declarePlain declares a durable queue with no arguments (the dead-letter
// queue), which a Python tool can read like any Celery queue; one that an
// operator created with arguments is used as it is.
func declarePlain(ctx context.Context, conn *amqpx.Conn, queue string) error {
	err := withChannel(ctx, conn, func(ch *amqp.Channel) error {
		if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare queue %s: %w", queue, err)
		}
		return nil
	})
	if !isRefusal(err) {
		return err
	}
	return withChannel(ctx, conn, func(ch *amqp.Channel) error {
		if _, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil); err != nil {
			return fmt.Errorf("check queue %s: %w", queue, err)
		}
		return nil
	})
}

func withChannel(ctx context.Context, conn *amqpx.Conn, fn func(ch *amqp.Channel) error) error {
	ch, err := conn.Channel(ctx)
	if err != nil {
		return err
	}
	defer ch.Close() //nolint:errcheck // a refusal already closed it
	return fn(ch)
}

// isRefusal reports whether the broker refused a request on a channel
// (PRECONDITION_FAILED, NOT_FOUND, ACCESS_REFUSED): retrying cannot help.
func isRefusal(err error) bool {
	var amqpErr *amqp.Error
	return errors.As(err, &amqpErr) && amqpErr.Server && amqpErr.Recover
}

// declareEvents declares Celery's event exchange as Celery does (durable
// topic exchange celeryev).
func declareEvents(ctx context.Context, conn *amqpx.Conn) error {
	return withChannel(ctx, conn, func(ch *amqp.Channel) error {
		return ch.ExchangeDeclare(EventExchange, amqp.ExchangeTopic, true, false, false, false, nil)
	})
}
