// Package workers runs the worker pools of one `fundigo worker` process: an
// Asynq server for tasks and the RabbitMQ consumers for events, behind one
// Run(ctx). Domain adapters (workers/payments, workers/notifications,
// workers/ratings, workers/celerycompat, workers/maintenance) register their
// task handlers on the Mux and add their consumer specs; this package knows
// none of them.
//
// # Handler shape
//
// Task and event handlers return an error that pkg/outcome classifies, the
// same way on both transports: nil or already done (acked), permanent
// (archived / dead-lettered into <queue>.dlq at once) or retryable (retried
// with backoff; on RabbitMQ the message waits in <queue>.retry, not in a
// handler slot, and goes to the DLQ after its last attempt). The Asynq mux
// runs logTask → tasks.Classify → recover; each consumer runs amqpx.Log →
// the middleware added with UseAMQP (metrics) → amqpx.Classify →
// amqpx.Recover. Handlers are typed on both sides, amqpx.JSON(func(ctx, T)
// error) for events and tasks.JSON(func(ctx, T) error) for tasks, so no
// domain code sees an amqp.Delivery or an *asynq.Task, and a body that does
// not decode or validate is permanent before the handler runs.
//
// # Event bindings
//
// Every consumer declares its queue (a quorum queue with its DLX, DLQ and
// retry queue), binds it to the events exchange (Config.Exchange, set once
// for every consumer; domain packages name only routing keys) with its
// routing keys and runs its handler. Bindings returns that table, routing key → queue →
// handler, and `fundigo worker --bindings` prints it for the configured
// deployment:
//
//	ROUTING KEY              QUEUE                             HANDLER
//	stk.callback.received    fundigo.payments.stk_callbacks    …/workers/payments.handleCallbackNotice
//	notification.requested   fundigo.notifications.requested   …
//	payment.paid             fundigo.notifications.payments    …
//	payment.failed           fundigo.notifications.payments    …
//	payout.succeeded         fundigo.notifications.payouts     …
//	review.created           fundigo.ratings.reviews           …
//
// The outbox relay runs beside the pools (AddRunner) and starts only once
// every consumer queue is declared and bound, so no event is published
// before the queue it feeds exists.
package workers
