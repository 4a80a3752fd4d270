package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Listen observes events on a system's topic exchange without taking them
// from anyone: it binds a private, server-named, auto-deleted queue to
// exchange with bindings and calls handle for each delivery (auto-ack)
// until ctx ends. The exchange is declared (topic, durable, as amqpx does)
// in case the system has not declared it yet. wait returns once the
// listener stopped and its queue is gone.
func Listen(ctx context.Context, url, exchange string, bindings []string, handle func(amqp.Delivery)) (wait func(), err error) {
	conn, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second), Properties: amqp.Table{"connection_name": "fundigo-bench-listener"}})
	if err != nil {
		return nil, fmt.Errorf("dial rabbitmq: %w", err)
	}
	fail := func(err error) (func(), error) {
		_ = conn.Close()
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return fail(fmt.Errorf("open channel: %w", err))
	}
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fail(fmt.Errorf("declare exchange %s: %w", exchange, err))
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		return fail(fmt.Errorf("declare listener queue: %w", err))
	}
	for _, key := range bindings {
		if err := ch.QueueBind(q.Name, key, exchange, false, nil); err != nil {
			return fail(fmt.Errorf("bind listener to %s with %s: %w", exchange, key, err))
		}
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		return fail(fmt.Errorf("consume listener queue: %w", err))
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for d := range deliveries {
			handle(d)
		}
	})
	go func() {
		<-ctx.Done()
		_ = conn.Close() // ends deliveries; the exclusive queue goes with the connection
	}()
	return wg.Wait, nil
}
