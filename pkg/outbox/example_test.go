package outbox_test

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/outbox"
	"fundigo/pkg/store"
)

// Write the event in the transaction of the change it announces: it is
// published if and only if the change commits. The deterministic ID makes a
// second write of the same event a no-op.
func ExampleWrite() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:5432/test")
	if err != nil {
		return
	}
	defer pool.Close()
	payload, _ := json.Marshal(map[string]any{"id": "p-1", "status": "paid"})
	_ = store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		// … UPDATE payments SET status = 'paid' … in tx …
		return outbox.Write(ctx, tx, outbox.Message{
			ID:         "payment.paid:p-1",
			RoutingKey: "payment.paid",
			Type:       "payment.paid",
			Payload:    payload,
		})
	})
}

// A Relay publishes committed rows with publisher confirms; run it beside
// the workers and Flush what is left at shutdown.
func ExampleRelay() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := zerolog.Nop()
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:5432/test")
	if err != nil {
		return
	}
	defer pool.Close()
	conn, err := amqpx.Dial(ctx, log, amqpx.ConnConfig{URL: "amqp://guest:guest@127.0.0.1:5672/"})
	if err != nil {
		return
	}
	defer conn.Close(context.Background()) //nolint:errcheck // example
	pub, err := amqpx.NewPublisher(conn, amqpx.PublisherConfig{})
	if err != nil {
		return
	}
	relay, err := outbox.NewRelay(pool, pub, log, outbox.RelayConfig{Exchange: "fundigo.events"})
	if err != nil {
		return
	}
	_ = relay.Run(ctx)                    // until ctx ends
	_ = relay.Flush(context.Background()) // publish what the last handlers committed
}
