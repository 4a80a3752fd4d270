package workers

import (
	"fmt"
	"io"
	"text/tabwriter"

	"fundigo/pkg/amqpx"
)

// Binding is one row of the event routing table: messages published to
// Exchange with a key matching RoutingKey land in Queue and are handled by
// Handler (the Go function behind the consumer), like a row of api/routes.go
// for HTTP.
type Binding struct {
	RoutingKey string
	Queue      string
	Handler    string
	Exchange   string
}

// Bindings lists every event binding of the consumers added so far, one row
// per routing key, in registration order. `fundigo worker --bindings` prints
// it.
func (s *Server) Bindings() []Binding {
	var out []Binding
	for _, c := range s.consumers {
		h := c.Name
		if h == "" && c.BatchHandler != nil {
			h = amqpx.FuncName(c.BatchHandler)
		}
		if h == "" {
			h = amqpx.FuncName(c.Handler)
		}
		if len(c.Bindings) == 0 {
			out = append(out, Binding{RoutingKey: "(direct)", Queue: c.Queue, Handler: h, Exchange: c.Exchange})
		}
		for _, key := range c.Bindings {
			out = append(out, Binding{RoutingKey: key, Queue: c.Queue, Handler: h, Exchange: c.Exchange})
		}
	}
	return out
}

// WriteBindings prints bindings as an aligned table.
func WriteBindings(w io.Writer, bindings []Binding) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTING KEY\tQUEUE\tHANDLER\tEXCHANGE")
	for _, b := range bindings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.RoutingKey, b.Queue, b.Handler, b.Exchange)
	}
	return tw.Flush()
}
