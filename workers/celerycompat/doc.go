// Package celerycompat runs the Django app's Celery tasks on Go workers: it
// consumes Celery protocol v2 JSON messages from RabbitMQ and writes results
// in Celery's Redis result-backend format (pkg/celery), so `.delay()` and
// `AsyncResult(id).get()` keep working unchanged while tasks move off Python
// one at a time.
//
// # Queues
//
// Each configured queue is declared exactly as kombu declares it (durable
// direct exchange and durable queue of the same name, no arguments, bound
// with the queue name), so Python and Go workers can share it; a queue that
// exists with other arguments (x-max-priority, quorum…) is consumed after a
// passive declare. Celery publishes to the default exchange with the queue
// name as routing key, and so do retries and parked ETAs.
//
// # What a delivery becomes (ack timing)
//
// Every outcome is made durable before the delivery is acked (late ack), so a
// crash at any point redelivers the message:
//   - a stored SUCCESS for its id (a redelivery after the result was written):
//     acked, not run again;
//   - undecodable, another serializer, canvas, or a task name with no Go
//     handler: copied to the dead-letter queue (confirmed), FAILURE stored,
//     acked; `fundigo celery dlq list|replay` shows and replays it;
//   - expires in the past: REVOKED (TaskRevokedError "expired") stored, not run;
//   - eta further away than HoldETA: parked as an Asynq task due at the eta
//     (task id = message id + retries, so a redelivery parks nothing twice),
//     acked once Redis has it; when due the message is republished unchanged
//     and runs then. Nothing is held in memory for long and a restart loses
//     nothing;
//   - run: SUCCESS (the JSON return value) or FAILURE stored, then acked;
//   - a transient failure: republished with the same id, retries+1 and a new
//     eta (confirmed), RETRY stored, original acked; past MaxRetries FAILURE.
//
// Infrastructure errors (Redis, RabbitMQ) requeue the delivery after a pause.
// Handlers must therefore be idempotent; the built-in ones go through the
// native paths' idempotency keys (the inbox's dedupe, a notification's
// source key, an Asynq task id).
package celerycompat
