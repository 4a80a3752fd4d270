package workers_test

import (
	"bytes"
	"context"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
	"fundigo/workers"
)

func handlePaid(context.Context, amqp.Delivery) error { return nil }

// A spec without an exchange binds to the server's (Config.Exchange).
func TestBindings(t *testing.T) {
	t.Parallel()
	s := workers.New(zerolog.Nop(), nil, nil, workers.Config{Exchange: "ev"})
	s.AddConsumer(
		amqpx.ConsumerSpec{Queue: "q.payments", Exchange: "ev", Bindings: []string{"payment.paid", "payment.failed"}, Handler: handlePaid},
		amqpx.ConsumerSpec{Queue: "q.reviews", Bindings: []string{"review.created"},
			Handler: amqpx.JSON(func(context.Context, struct{}) error { return nil })},
	)
	got := s.Bindings()
	require.Equal(t, []workers.Binding{
		{RoutingKey: "payment.paid", Queue: "q.payments", Handler: "fundigo/workers_test.handlePaid", Exchange: "ev"},
		{RoutingKey: "payment.failed", Queue: "q.payments", Handler: "fundigo/workers_test.handlePaid", Exchange: "ev"},
		{RoutingKey: "review.created", Queue: "q.reviews", Handler: "fundigo/pkg/amqpx.JSON[...]", Exchange: "ev"},
	}, got)
	var buf bytes.Buffer
	require.NoError(t, workers.WriteBindings(&buf, got))
	require.Contains(t, buf.String(), "ROUTING KEY")
	require.Contains(t, buf.String(), "payment.failed  q.payments")
}
