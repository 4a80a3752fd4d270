package workers

import (
	"context"

	amqp "github.com/rabbitmq/amqp091-go"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/outcome"
)

// WrapConsumers replaces the handler of every consumer added so far with
// wrap(queue, handler), e.g. to count deliveries by outcome. Call it after
// the last AddConsumer and before Run. A batch consumer's deliveries go
// through wrap one by one with their own results (amqpx.WrapBatch).
func (s *Server) WrapConsumers(wrap func(queue string, h amqpx.HandlerFunc) amqpx.HandlerFunc) {
	for i := range s.consumers {
		c := &s.consumers[i]
		if c.BatchHandler != nil {
			if c.Name == "" {
				c.Name = amqpx.FuncName(c.BatchHandler)
			}
			queue := c.Queue
			c.BatchHandler = amqpx.WrapBatch(c.BatchHandler, func(h amqpx.HandlerFunc) amqpx.HandlerFunc { return wrap(queue, h) })
			continue
		}
		if c.Name == "" { // --bindings shows the domain handler, not the wrapper
			c.Name = amqpx.FuncName(c.Handler)
		}
		c.Handler = wrap(c.Queue, c.Handler)
	}
}

// ReportFailures is a WrapConsumers wrapper that sends a message's
// permanent failure (it will be dead-lettered) and a handler panic to the
// configured error reporter (Config.Errors); a no-op without one.
func (s *Server) ReportFailures(queue string, h amqpx.HandlerFunc) amqpx.HandlerFunc {
	rep := s.cfg.Errors
	if !rep.Enabled() {
		return h
	}
	return func(ctx context.Context, d amqp.Delivery) (err error) {
		defer func() {
			if p := recover(); p != nil {
				rep.CapturePanic(ctx, p, map[string]string{"queue": queue, "routing_key": d.RoutingKey})
				panic(p) // amqpx.Recover turns it into a retry, as without a reporter
			}
		}()
		err = h(ctx, d)
		if outcome.Classify(err) == outcome.PermanentFailure {
			rep.CaptureError(ctx, err, map[string]string{"queue": queue, "routing_key": d.RoutingKey})
		}
		return err
	}
}
