package celerycompat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	amqp "github.com/rabbitmq/amqp091-go"

	"fundigo/pkg/celery"
	"fundigo/pkg/tasks"
)

// TypeDeliver is the Asynq task that holds a Celery message with a future
// eta in Redis and republishes it to its queue when due. It lives here, not
// in pkg/tasks, because only this package enqueues and handles it.
const TypeDeliver = "celery:deliver"

// HeaderParked marks a message republished by TypeDeliver with the id of
// the park task that held it. Such a message is never parked again under the
// same id: if the clocks of two hosts disagree and its eta still looks a
// little ahead, it is waited for in memory.
const HeaderParked = "x-fundigo-parked"

// parked is TypeDeliver's payload: the message as it will be republished.
type parked struct {
	Queue           string          `json:"queue"`
	ContentType     string          `json:"content_type"`
	ContentEncoding string          `json:"content_encoding"`
	CorrelationID   string          `json:"correlation_id"`
	ReplyTo         string          `json:"reply_to,omitempty"`
	Priority        uint8           `json:"priority,omitempty"`
	Headers         json.RawMessage `json:"headers"`
	Body            []byte          `json:"body"`
}

// parkTaskID dedupes parking: a redelivered message (same id, same
// retries) finds its task already there.
func parkTaskID(m *celery.Message) string {
	return TypeDeliver + ":" + m.ID + ":" + strconv.Itoa(m.Retries)
}

// wasParked reports whether m is the republished copy of its own park task.
func wasParked(m *celery.Message) bool {
	id, _ := m.Extra[HeaderParked].(string)
	return id == parkTaskID(m)
}

// park stores m in Asynq, due at its eta, and returns once Redis has it; the
// delivery is then acked. The republished message keeps its eta, which is
// then in the past (or within HoldETA), so it runs.
func (c *Consumer) park(ctx context.Context, m *celery.Message, queue string) error {
	pub, err := m.Publishing()
	if err != nil {
		return err
	}
	headers, err := encodeTable(pub.Headers)
	if err != nil {
		return fmt.Errorf("park celery task %s: %w", m.ID, err)
	}
	payload, err := json.Marshal(parked{Queue: queue, ContentType: pub.ContentType, ContentEncoding: pub.ContentEncoding,
		CorrelationID: pub.CorrelationId, ReplyTo: pub.ReplyTo, Priority: pub.Priority, Headers: headers, Body: pub.Body})
	if err != nil {
		return fmt.Errorf("park celery task %s: %w", m.ID, err)
	}
	// Asynq schedules by whole seconds (it runs a task once now.Unix()
	// reaches the second of ProcessAt), so round up: never early.
	due := m.ETA.Truncate(time.Second)
	if due.Before(m.ETA) {
		due = due.Add(time.Second)
	}
	task := asynq.NewTask(TypeDeliver, payload, asynq.TaskID(parkTaskID(m)), asynq.Queue(c.cfg.ParkQueue),
		asynq.ProcessAt(due), asynq.MaxRetry(100), asynq.Timeout(time.Minute))
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), durableTimeout)
	defer cancel()
	_, err = c.deps.Tasks.EnqueueContext(pctx, task)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil // parked by an earlier delivery of the same message
	}
	if err != nil {
		return fmt.Errorf("park celery task %s until %s: %w", m.ID, m.ETA.Format(time.RFC3339), err)
	}
	return nil
}

// Validate requires the queue to republish to.
func (p *parked) Validate() error {
	if p.Queue == "" {
		return errors.New("parked celery message names no queue")
	}
	return nil
}

// Register adds the TypeDeliver handler to mux: it republishes parked
// messages with pub, which must be a mandatory publisher on the Celery
// broker's connection, or a RedisPublisher on the Redis broker. A publish
// failure is retried by Asynq.
func Register(mux *asynq.ServeMux, pub Publisher) {
	mux.Handle(TypeDeliver, tasks.JSON(deliverParked(pub)))
}

// deliverParked republishes one parked message to its queue.
func deliverParked(pub Publisher) tasks.Handler[parked] {
	return func(ctx context.Context, p parked) error {
		headers, err := decodeTable(p.Headers)
		if err != nil {
			return tasks.Permanent(fmt.Errorf("decode parked celery message %s: %w", p.CorrelationID, err))
		}
		if id, ok := asynq.GetTaskID(ctx); ok {
			headers[HeaderParked] = id
		}
		err = pub.Publish(ctx, "", p.Queue, amqp.Publishing{ContentType: p.ContentType, ContentEncoding: p.ContentEncoding,
			CorrelationId: p.CorrelationID, ReplyTo: p.ReplyTo, Priority: p.Priority, DeliveryMode: amqp.Persistent,
			Headers: headers, Body: p.Body})
		if err != nil {
			return fmt.Errorf("republish parked celery task %s to %s: %w", p.CorrelationID, p.Queue, err)
		}
		return nil
	}
}
