package outbox_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/outbox"
	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
)

// paid is a domain event: it knows its routing key and its deterministic
// message id (the pkg/events types are written this way).
type paid struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
}

func (paid) RoutingKey() string  { return "payment.paid" }
func (p paid) MessageID() string { return "payment.paid:" + p.ID }

// Write the event in the transaction of the change it announces: it is
// published if and only if the change commits, to the exchange the relay
// was built with. The deterministic id makes a second write of the same
// event a no-op.
func ExampleWriteEvent() {
	storetest.Example("ExampleWriteEvent", func(t testing.TB) {
		ctx := context.Background()
		pool := storetest.NewPool(t) // a migrated schema of its own, dropped afterwards
		for range 2 {
			err := store.WithTx(ctx, pool, func(tx pgx.Tx) error {
				// … UPDATE payments SET status = 'paid' … in tx …
				return outbox.WriteEvent(ctx, tx, paid{ID: "p-1", Amount: 1500})
			})
			if err != nil {
				fmt.Println(err)
				return
			}
		}
		var n int
		var id, key, payload string
		err := pool.QueryRow(ctx, `SELECT count(*) OVER (), message_id, routing_key, convert_from(payload, 'UTF8') FROM outbox`).
			Scan(&n, &id, &key, &payload)
		fmt.Println(n, id, key, payload, err)
	})
	// Output:
	// 1 payment.paid:p-1 payment.paid {"id":"p-1","amount":1500} <nil>
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
