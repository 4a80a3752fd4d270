package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// RabbitConfig shapes the raw RabbitMQ baselines like the amqpx path they
// are compared with: same message size, same consumer goroutines and
// prefetch, quorum queues behind a topic exchange.
type RabbitConfig struct {
	URL          string
	MessageBytes int
	// Consumers is the number of handler goroutines on the consuming channel.
	Consumers int
	// Prefetch is the consuming channel's basic.qos.
	Prefetch int
}

// rabbitScratch is a scratch topic exchange with one quorum queue bound to
// it by routing key; remove deletes both.
type rabbitScratch struct {
	conn     *amqp.Connection
	exchange string
	queue    string
	key      string
}

func newRabbitScratch(url string) (*rabbitScratch, error) {
	conn, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second), Properties: amqp.Table{"connection_name": "fundigo-bench"}})
	if err != nil {
		return nil, fmt.Errorf("dial rabbitmq: %w", err)
	}
	s := &rabbitScratch{conn: conn, exchange: ScratchName("bench.x"), queue: ScratchName("bench.q"), key: "bench.noop"}
	ch, err := conn.Channel()
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	err = ch.ExchangeDeclare(s.exchange, amqp.ExchangeTopic, true, false, false, false, nil)
	if err == nil {
		_, err = ch.QueueDeclare(s.queue, true, false, false, false, amqp.Table{
			amqp.QueueTypeArg:     amqp.QueueTypeQuorum,
			"x-delivery-limit":    int64(10),
			amqp.QueueOverflowArg: amqp.QueueOverflowRejectPublish,
		})
	}
	if err == nil {
		err = ch.QueueBind(s.queue, s.key, s.exchange, false, nil)
	}
	if err != nil {
		s.remove()
		return nil, fmt.Errorf("declare scratch queue: %w", err)
	}
	return s, nil
}

func (s *rabbitScratch) remove() {
	if ch, err := s.conn.Channel(); err == nil {
		_, _ = ch.QueueDelete(s.queue, false, false, false)
		_ = ch.ExchangeDelete(s.exchange, false, false)
		_ = ch.Close()
	}
	_ = s.conn.Close()
}

// confirmChannel opens a channel in publisher-confirm mode.
func (s *rabbitScratch) confirmChannel() (*amqp.Channel, error) {
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("enable confirms: %w", err)
	}
	return ch, nil
}

// publishConfirmed publishes one persistent message and waits for its own
// confirm; many calls pipeline on one channel.
func publishConfirmed(ctx context.Context, ch *amqp.Channel, exchange, key string, msg amqp.Publishing) error {
	msg.DeliveryMode = amqp.Persistent
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, msg)
	if err != nil {
		return err
	}
	acked, err := dc.WaitContext(ctx)
	if err != nil {
		return err
	}
	if !acked {
		return errors.New("publish nacked")
	}
	return nil
}

// consume runs n handler goroutines on a fresh channel with cfg's prefetch
// until ctx ends; handle is called for each delivery, which is then acked.
func (s *rabbitScratch) consume(ctx context.Context, cfg RabbitConfig, handle func(amqp.Delivery)) (wait func(), err error) {
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	if err := ch.Qos(cfg.Prefetch, 0, false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("set prefetch: %w", err)
	}
	deliveries, err := ch.Consume(s.queue, "", false, false, false, false, nil)
	if err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("consume: %w", err)
	}
	var wg sync.WaitGroup
	for range max(cfg.Consumers, 1) {
		wg.Go(func() {
			for d := range deliveries {
				handle(d)
				_ = d.Ack(false)
			}
		})
	}
	go func() {
		<-ctx.Done()
		_ = ch.Close() // closes deliveries
	}()
	return wg.Wait, nil
}

// RabbitPublishConsume measures the raw confirmed publish rate (many
// publishes pipelined on one confirm channel, each waiting for its own
// confirm, from opts.Concurrency goroutines) and then the raw consume rate:
// draining everything just published with manual acks, cfg.Consumers
// goroutines and cfg.Prefetch.
func RabbitPublishConsume(ctx context.Context, cfg RabbitConfig, opts Options) (publish, consume Result, err error) {
	publish.Name, consume.Name = "baseline.amqp_publish", "baseline.amqp_consume"
	s, err := newRabbitScratch(cfg.URL)
	if err != nil {
		return publish, consume, err
	}
	defer s.remove()
	ch, err := s.confirmChannel()
	if err != nil {
		return publish, consume, err
	}
	defer ch.Close()
	body := payload(cfg.MessageBytes)
	var published atomic.Int64
	publish, err = Run(ctx, publish.Name, opts, func(ctx context.Context) error {
		err := publishConfirmed(ctx, ch, s.exchange, s.key, amqp.Publishing{Body: body})
		if err == nil {
			published.Add(1)
		}
		return err
	})
	publish.Unit = "confirmed publish"
	if err != nil {
		return publish, consume, err
	}
	consume, err = DrainRate(ctx, consume.Name, published.Load(), func(ctx context.Context, handled func()) (func(), error) {
		return s.consume(ctx, cfg, func(amqp.Delivery) { handled() })
	})
	consume.Unit = "delivery"
	consume.Concurrency = cfg.Consumers
	return publish, consume, err
}

// RabbitRoundTrip measures raw publish → consume round trips: each operation
// publishes one message (confirmed) and waits until a consumer goroutine
// received it.
func RabbitRoundTrip(ctx context.Context, cfg RabbitConfig, opts Options) (Result, error) {
	const name = "baseline.amqp_roundtrip"
	s, err := newRabbitScratch(cfg.URL)
	if err != nil {
		return Result{Name: name}, err
	}
	defer s.remove()
	ch, err := s.confirmChannel()
	if err != nil {
		return Result{Name: name}, err
	}
	defer ch.Close()
	var waiters Waiters
	cctx, stop := context.WithCancel(ctx)
	wait, err := s.consume(cctx, cfg, func(d amqp.Delivery) { waiters.Done(d.MessageId) })
	if err != nil {
		stop()
		return Result{Name: name}, err
	}
	defer func() { stop(); wait() }()
	body := payload(cfg.MessageBytes)
	var seq atomic.Int64
	res, err := Run(ctx, name, opts, func(ctx context.Context) error {
		id := strconv.FormatInt(seq.Add(1), 10)
		done := waiters.Add(id)
		if err := publishConfirmed(ctx, ch, s.exchange, s.key, amqp.Publishing{MessageId: id, Body: body}); err != nil {
			waiters.Forget(id)
			return err
		}
		return waiters.Wait(ctx, id, done)
	})
	res.Unit = "round trip"
	return res, err
}

// StartConsumerFunc starts consuming, calling handled once per message
// handled, and returns a function that waits until consuming has stopped
// after ctx ended.
type StartConsumerFunc func(ctx context.Context, handled func()) (wait func(), err error)

// DrainRate times a consumer started by start until it handled n messages
// already waiting in its queue: the consume rate without a producer
// competing for the CPU. It gives up after 5 minutes.
func DrainRate(ctx context.Context, name string, n int64, start StartConsumerFunc) (Result, error) {
	if n == 0 {
		return Result{Name: name, Mode: "batch"}, errors.New("drain: nothing to consume")
	}
	var count atomic.Int64
	all := make(chan struct{})
	cctx, stop := context.WithTimeout(ctx, 5*time.Minute)
	defer stop()
	cpu := StartCPU()
	began := time.Now()
	wait, err := start(cctx, func() {
		if count.Add(1) == n {
			close(all)
		}
	})
	if err != nil {
		return Result{Name: name, Mode: "batch"}, err
	}
	select {
	case <-all:
	case <-cctx.Done():
	}
	elapsed := time.Since(began)
	stop()
	wait()
	res := Timed(name, min(count.Load(), n), elapsed)
	cpu.Stop(&res)
	if count.Load() < n {
		return res, fmt.Errorf("drain %s: consumed %d of %d: %w", name, count.Load(), n, cctx.Err())
	}
	return res, nil
}

// RemoveRabbit deletes scratch queues, then scratch exchanges; each on its
// own channel, since a failed delete closes the channel. Names that do not
// exist are skipped.
func RemoveRabbit(url string, queues, exchanges []string) error {
	conn, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		return fmt.Errorf("dial rabbitmq: %w", err)
	}
	defer conn.Close()
	do := func(f func(ch *amqp.Channel) error) {
		if ch, err := conn.Channel(); err == nil {
			if f(ch) == nil {
				_ = ch.Close()
			}
		}
	}
	for _, q := range queues {
		do(func(ch *amqp.Channel) error { _, err := ch.QueueDelete(q, false, false, false); return err })
	}
	for _, x := range exchanges {
		do(func(ch *amqp.Channel) error { return ch.ExchangeDelete(x, false, false) })
	}
	return nil
}
