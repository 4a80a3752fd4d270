package amqpx

import "context"

// Info describes the delivery being handled. The consumer puts it in the
// handler's ctx, so typed handlers (Handler[T]) can read the routing key or
// message id without seeing the AMQP delivery.
type Info struct {
	Queue string
	// RoutingKey is the key the message was published with, also after a
	// delayed redelivery (which routes the copy through a retry queue).
	RoutingKey string
	MessageID  string
	// Attempt counts handler calls for this message, from 1; MaxAttempts is
	// the attempt after which a retryable failure is dead-lettered.
	Attempt     int
	MaxAttempts int
}

// Exhausted reports whether a retryable failure of this attempt is the last
// one allowed, so the message is dead-lettered instead of redelivered.
func (i Info) Exhausted() bool { return i.MaxAttempts > 0 && i.Attempt >= i.MaxAttempts }

type infoKey struct{}

// WithInfo returns ctx carrying info (the consumer does this; tests calling
// a HandlerFunc directly may too).
func WithInfo(ctx context.Context, info Info) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// InfoFrom returns the Info of the delivery being handled.
func InfoFrom(ctx context.Context) (Info, bool) {
	i, ok := ctx.Value(infoKey{}).(Info)
	return i, ok
}
