package notifications

import (
	"context"

	"github.com/hibiken/asynq"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
	"fundigo/pkg/tasks"
)

// Register adds the notification task handlers (push:send, push:receipts)
// to mux.
func Register(mux *asynq.ServeMux, deps Deps) error {
	w, err := newWorker(deps)
	if err != nil {
		return err
	}
	mux.Handle(tasks.TypePushSend, tasks.JSON(w.handleSend))
	mux.HandleFunc(tasks.TypePushReceipts, w.handleReceipts)
	return nil
}

// Sender returns the sender loop to run beside the task handlers
// (workers.Server.AddRunner): it claims due deliveries across
// notifications, sends them in full provider requests and settles them in
// batches (notification.Pipeline.RunSender). With Deps.SendLoop it is the
// only sender of new deliveries; push:send tasks (the receipts run's
// resumes, tasks queued before) still work beside it.
func Sender(deps Deps) (func(ctx context.Context) error, error) {
	w, err := newWorker(deps)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error { return w.pipeline.RunSender(ctx, w.sender) }, nil
}

// TaskTypes are the task types Register handles, for listings that must
// not build the workers (`fundigo scheduler list`).
func TaskTypes() []string { return []string{tasks.TypePushSend, tasks.TypePushReceipts} }

// Consumers returns the event bindings: notification.requested, and the
// payment events that notify customers and technicians. The exchange they
// bind to is the workers.Server's.
func Consumers(deps Deps) ([]amqpx.ConsumerSpec, error) {
	w, err := newWorker(deps)
	if err != nil {
		return nil, err
	}
	return []amqpx.ConsumerSpec{
		{
			Queue:    w.queuePrefix + "notifications.requested",
			Bindings: []string{events.RoutingKeyNotificationRequested},
			// Single-user notifications (the Celery shape) arrive by the
			// thousand a second: the requests that wait are stored together,
			// one statement per batch. Few goroutines, so a backlog goes in
			// full batches.
			// Events of notifications stored already (the API's own)
			// are acked unread.
			Concurrency:  4,
			Name:         amqpx.FuncName(w.handleRequested),
			BatchHandler: skipStored(amqpx.JSONBatch(w.handleRequested)),
		},
		{
			Queue:    w.queuePrefix + "notifications.payments",
			Bindings: []string{events.RoutingKeyPaymentPaid, events.RoutingKeyPaymentFailed},
			// Few goroutines, so events queue behind a busy one and go
			// together: the batch grows with the load.
			Concurrency: 2,
			Name:        amqpx.FuncName(w.handlePayments),
			// The payment events that wait are notified together: one
			// statement per batch (with the sender loop).
			BatchHandler: amqpx.JSONBatch(w.handlePayments),
		},
		{
			Queue:       w.queuePrefix + "notifications.payouts",
			Bindings:    []string{events.RoutingKeyPayoutSucceeded},
			Concurrency: 2,
			Name:        amqpx.FuncName(w.handlePayout),
			Handler:     amqpx.JSON(w.handlePayout),
		},
	}, nil
}
