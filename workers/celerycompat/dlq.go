package celerycompat

import (
	"context"
	"errors"
	"fmt"
	"maps"

	amqp "github.com/rabbitmq/amqp091-go"

	"fundigo/pkg/amqpx"
)

// DeadLetter describes one message in the dead-letter queue.
type DeadLetter struct {
	ID             string `json:"id"`
	Task           string `json:"task"`
	Queue          string `json:"queue"`  // where it came from; replay sends it back there
	Reason         string `json:"reason"` // why no Go worker ran it
	DeadLetteredAt string `json:"dead_lettered_at"`
	Retries        int64  `json:"retries"`
	Bytes          int    `json:"bytes"`
}

func describe(d amqp.Delivery) DeadLetter {
	str := func(k string) string { s, _ := d.Headers[k].(string); return s }
	dl := DeadLetter{ID: str("id"), Task: str("task"), Queue: str(HeaderDeadLetterQueue),
		Reason: str(HeaderDeadLetterReason), DeadLetteredAt: str(HeaderDeadLetteredAt), Bytes: len(d.Body)}
	if dl.ID == "" {
		dl.ID = d.CorrelationId
	}
	switch n := d.Headers["retries"].(type) {
	case int32:
		dl.Retries = int64(n)
	case int64:
		dl.Retries = n
	}
	return dl
}

// ListDeadLetters returns up to limit messages of queue without removing
// them: they are fetched unacked and handed back when the channel closes,
// in their original order.
// A dead-letter queue that does not exist yet (no worker has run) holds
// nothing: an empty list, not the broker's 404.
func ListDeadLetters(ctx context.Context, conn *amqpx.Conn, queue string, limit int) ([]DeadLetter, error) {
	if n, err := deadLetterCount(ctx, conn, queue); err != nil || n == 0 {
		return nil, err
	}
	ch, err := conn.Channel(ctx)
	if err != nil {
		return nil, err
	}
	defer ch.Close() //nolint:errcheck // closing requeues everything fetched
	var out []DeadLetter
	for len(out) < limit {
		d, ok, err := ch.Get(queue, false)
		if err != nil {
			return nil, fmt.Errorf("read dead-letter queue %s: %w", queue, err)
		}
		if !ok {
			break
		}
		out = append(out, describe(d))
	}
	return out, nil
}

// ReplayDeadLetters moves up to limit messages of queue for which match
// returns true back to the queue they came from (headers as received, minus
// the dead-letter ones), each acked only after the broker confirmed its
// republish. Messages that do not match stay where they are. Only the
// messages already there when it starts are looked at: one that a worker
// dead-letters again while the replay runs (its task is still unknown) waits
// for the next replay instead of looping. It returns the replayed messages.
func ReplayDeadLetters(ctx context.Context, conn *amqpx.Conn, pub Publisher, queue string, limit int,
	match func(DeadLetter) bool) ([]DeadLetter, error) {
	n, err := deadLetterCount(ctx, conn, queue)
	if err != nil || n == 0 {
		return nil, err
	}
	ch, err := conn.Channel(ctx)
	if err != nil {
		return nil, err
	}
	defer ch.Close() //nolint:errcheck // closing requeues the unmatched ones
	var replayed []DeadLetter
	for seen := 0; seen < n && len(replayed) < limit; seen++ {
		d, ok, err := ch.Get(queue, false)
		if err != nil {
			return replayed, fmt.Errorf("read dead-letter queue %s: %w", queue, err)
		}
		if !ok {
			break
		}
		dl := describe(d)
		if !match(dl) {
			continue // left unacked: back in the queue when the channel closes
		}
		if dl.Queue == "" {
			return replayed, errors.New("dead letter " + dl.ID + " does not say which queue it came from")
		}
		h := maps.Clone(d.Headers)
		for _, k := range []string{HeaderDeadLetterQueue, HeaderDeadLetterReason, HeaderDeadLetteredAt} {
			delete(h, k)
		}
		err = pub.Publish(ctx, "", dl.Queue, amqp.Publishing{
			Headers: h, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding, DeliveryMode: amqp.Persistent,
			Priority: d.Priority, CorrelationId: d.CorrelationId, ReplyTo: d.ReplyTo, MessageId: d.MessageId,
			Timestamp: d.Timestamp, Type: d.Type, AppId: d.AppId, Body: d.Body})
		if err != nil {
			return replayed, fmt.Errorf("replay %s to %s: %w", dl.ID, dl.Queue, err)
		}
		if err := d.Ack(false); err != nil {
			return replayed, fmt.Errorf("ack replayed %s (it may be replayed twice): %w", dl.ID, err)
		}
		replayed = append(replayed, dl)
	}
	return replayed, nil
}

// deadLetterCount is the number of messages in queue; 0 when it does not
// exist yet.
func deadLetterCount(ctx context.Context, conn *amqpx.Conn, queue string) (int, error) {
	ch, err := conn.Channel(ctx)
	if err != nil {
		return 0, err
	}
	defer ch.Close() //nolint:errcheck // a 404 already closed it
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	var amqpErr *amqp.Error
	if errors.As(err, &amqpErr) && amqpErr.Code == amqp.NotFound {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("check dead-letter queue %s: %w", queue, err)
	}
	return q.Messages, nil
}
