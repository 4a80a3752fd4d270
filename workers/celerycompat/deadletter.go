package celerycompat

import (
	"context"
	"fmt"
	"maps"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"fundigo/pkg/celery"
)

// Headers a dead letter carries besides the original ones; replay removes them.
const (
	// HeaderDeadLetterQueue is the queue the message was consumed from and
	// is replayed to.
	HeaderDeadLetterQueue = "x-fundigo-queue"
	// HeaderDeadLetterReason says why no Go worker ran it.
	HeaderDeadLetterReason = "x-fundigo-reason"
	// HeaderDeadLetteredAt is when (RFC 3339, UTC).
	HeaderDeadLetteredAt = "x-fundigo-dead-lettered-at"
)

// reject keeps a message no Go worker can run: it copies it, unchanged, to
// the dead-letter queue (confirmed) and stores exc as the task's FAILURE so
// AsyncResult.get() raises instead of waiting out its timeout (what a Python
// worker does for an unregistered task). m may carry only the id (or nothing)
// for an undecodable message. A crash between the two steps redelivers the
// message, which may then be dead-lettered twice: replay is idempotent
// where the tasks are.
func (c *Consumer) reject(ctx context.Context, log zerolog.Logger, d delivery, m *celery.Message, exc *celery.Exception, reason string) error {
	if err := c.deadLetter(ctx, d, reason); err != nil {
		return err
	}
	log.Error().Str("reason", reason).Str("dead_letter_queue", c.cfg.DeadLetterQueue).
		Msg("celery task dead-lettered; replay with `fundigo celery dlq replay`")
	if m.ID == "" || exc == nil {
		return nil
	}
	return c.store(ctx, m, celery.StateFailure, exc)
}

// deadLetter publishes d's message to the dead-letter queue with its
// properties, headers and body as received, plus where it came from and why.
func (c *Consumer) deadLetter(ctx context.Context, d delivery, reason string) error {
	h := maps.Clone(d.Headers)
	if h == nil {
		h = amqp.Table{}
	}
	h[HeaderDeadLetterQueue] = d.queue
	h[HeaderDeadLetterReason] = reason
	h[HeaderDeadLetteredAt] = c.cfg.Now().UTC().Format("2006-01-02T15:04:05Z07:00")
	pub := amqp.Publishing{
		Headers: h, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
		DeliveryMode: amqp.Persistent, Priority: d.Priority, CorrelationId: d.CorrelationId,
		ReplyTo: d.ReplyTo, MessageId: d.MessageId, Timestamp: d.Timestamp, Type: d.Type,
		AppId: d.AppId, Body: d.Body,
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), durableTimeout)
	defer cancel()
	if err := c.deps.Publisher.Publish(pctx, "", c.cfg.DeadLetterQueue, pub); err != nil {
		return fmt.Errorf("dead-letter celery message to %s: %w", c.cfg.DeadLetterQueue, err)
	}
	return nil
}
