package workers

import "fundigo/pkg/amqpx"

// WrapConsumers replaces the handler of every consumer added so far with
// wrap(queue, handler), e.g. to count deliveries by outcome. Call it after
// the last AddConsumer and before Run.
func (s *Server) WrapConsumers(wrap func(queue string, h amqpx.HandlerFunc) amqpx.HandlerFunc) {
	for i := range s.consumers {
		if s.consumers[i].Name == "" { // --bindings shows the domain handler, not the wrapper
			s.consumers[i].Name = amqpx.FuncName(s.consumers[i].Handler)
		}
		s.consumers[i].Handler = wrap(s.consumers[i].Queue, s.consumers[i].Handler)
	}
}
