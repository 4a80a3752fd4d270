package amqpx_test

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/outcome"
)

// A typed handler: the body is decoded into the event type (paid, whose
// Validate makes an invalid one a permanent failure before the handler
// runs), and the handler
// returns nil (ack), outcome.Permanent (dead-letter) or another error
// (redelivered after a delay).
func ExampleJSON() {
	h := amqpx.JSON(func(ctx context.Context, ev paid) error {
		info, _ := amqpx.InfoFrom(ctx)
		fmt.Printf("%s: payment %s paid %d (attempt %d)\n", info.RoutingKey, ev.ID, ev.Amount, info.Attempt)
		return nil
	})
	ctx := amqpx.WithInfo(context.Background(), amqpx.Info{RoutingKey: "payment.paid", Attempt: 1})
	fmt.Println(h(ctx, amqp.Delivery{Body: []byte(`{"id":"p-1","amount":1500}`)}))
	err := h(ctx, amqp.Delivery{Body: []byte(`{"amount":1500}`)})
	fmt.Println(outcome.IsPermanent(err))
	// Output:
	// payment.paid: payment p-1 paid 1500 (attempt 1)
	// <nil>
	// true
}

// A consumer needs RabbitMQ: it declares its queue (with DLX, DLQ and retry
// queue), binds it and runs until ctx ends.
func ExampleConsumer() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log := zerolog.Nop()
	conn, err := amqpx.Dial(ctx, log, amqpx.ConnConfig{URL: "amqp://guest:guest@127.0.0.1:5672/", Name: "example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close(context.Background()) //nolint:errcheck // example
	c, err := amqpx.NewConsumer(conn, log, amqpx.ConsumerSpec{
		Queue:       "example.payments",
		Exchange:    "example.events",
		Bindings:    []string{"payment.paid"},
		Concurrency: 4,
		Handler: amqpx.JSON(func(_ context.Context, ev paid) error {
			fmt.Println("paid", ev.ID)
			return nil
		}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = c.Run(ctx) // returns after ctx ends and in-flight messages are acked
}
