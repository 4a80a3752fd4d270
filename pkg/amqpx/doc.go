// Package amqpx is a thin layer over github.com/rabbitmq/amqp091-go that gives
// the rest of FundiGO three things the raw client does not: a connection that
// heals itself, a publisher that tells each caller whether the broker took its
// message, and a consumer with the ack discipline of ARCHITECTURE.md.
//
// # Conn
//
// A [Conn] owns one AMQP connection. When the broker restarts or the socket
// drops it reconnects by itself with exponential backoff and re-declares every
// [Topology] it has been given (exchanges, quorum queues with their
// dead-letter exchange and queue, bindings) before anyone may use the new
// connection. amqp091-go's optional auto-recovery is not used: a supervisor
// goroutine watching NotifyClose is simple enough to reason about and is proven
// by the broker-restart test (restart_chaos_test.go, build tag chaos).
//
// # Publisher: ack timing
//
// [Publisher.Publish] returns nil only after the broker confirmed that message
// (publisher confirms). It returns an error when the broker nacked it
// ([ErrNacked]), when the channel or connection died before the confirm arrived
// ([ErrUnconfirmed]: the message may or may not have been routed, so the caller
// must retry and consumers must dedupe), when it was unroutable and the
// publisher is mandatory ([ErrUnroutable]), or when ctx ended. A message is
// never reported as published unless the broker said so. Many publishes are in
// flight at once on one channel; nobody waits for another caller's confirm.
//
// # Consumer: ack timing and idempotency
//
// A [Consumer] acks a delivery only after its [HandlerFunc] returned nil.
// [Permanent] errors reject it without requeue, so the queue dead-letters it
// into its DLQ; any other error (or a panic) requeues it after a short backoff,
// and the quorum queue's x-delivery-limit eventually dead-letters a poison
// message. Delivery is at-least-once: a handler may see the same message again
// after a requeue, a reconnect or a publisher retry, so every handler must be
// idempotent (dedupe on MessageId or on a domain key).
//
// # Batches
//
// A consumer with a [BatchHandlerFunc] (ConsumerSpec.BatchHandler) takes a
// delivery, then whatever further ones are already waiting (up to MaxBatch,
// bounded by the prefetch; it never waits for more), and calls the handler
// once for all of them. Each delivery is still settled by its own result,
// with the rules above, and gets its own log line, metrics and trace span;
// a panic fails (and redelivers) the whole batch. The successes are acked
// with one multiple ack when every delivery below them on the channel is
// already settled, one by one otherwise.
//
// # Thread-safety
//
// Conn, Publisher and Consumer are safe for concurrent use. A Consumer's
// handler runs on up to ConsumerSpec.Concurrency goroutines at once.
package amqpx
