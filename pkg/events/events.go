// Package events names the domain events FundiGO publishes on RabbitMQ: the
// topic exchange, one routing-key const block and payload structs per domain
// (payments.go, ratings.go, …).
//
// There is no envelope: an event is a JSON payload, and its metadata travels
// in the AMQP properties: MessageId (a deterministic id such as
// "payment.paid:<payment_id>", so the outbox and consumers can deduplicate),
// Type (the routing key) and Timestamp (when the change committed). Each
// published event type knows its own routing key and message id (its
// RoutingKey and MessageID methods), so publishing one names only the event:
// outbox.WriteEvent(ctx, tx, ev). Events are published through pkg/outbox,
// in the transaction of the change they describe, to the exchange the relay
// was built with, and delivered at-least-once: consumers must be idempotent.
package events

// Exchange is the durable topic exchange every domain event is published to.
// It is the default of the configurable exchange name; tests use their own
// (amqpxtest.Names) so they run in parallel.
const Exchange = "fundigo.events"
