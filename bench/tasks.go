package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/hibiken/asynq"
	amqp "github.com/rabbitmq/amqp091-go"
	"golang.org/x/sync/errgroup"

	"fundigo/pkg/amqpx"
	kit "fundigo/pkg/bench"
	"fundigo/pkg/tasks"
	"fundigo/workers"
)

// benchTasks measures the plumbing's own ceiling: no-op Asynq round trips
// through pkg/tasks queues and a workers.Server (its middleware, priority
// queues and logging), and events through amqpx's Publisher and Consumer,
// each right after its raw baseline.
func benchTasks(ctx context.Context, b *benchRun) error {
	return errors.Join(benchTasksAsynq(ctx, b), benchTasksAMQP(ctx, b))
}

func benchTasksAsynq(ctx context.Context, b *benchRun) error {
	if b.flags.Baselines {
		if err := b.asynqBaseline(ctx); err != nil {
			return err
		}
	}
	queues := tasks.NewQueues(kit.ScratchName("bench") + ":")
	defer kit.DeleteAsynqQueues(b.redisOpt, queues.All()...)
	w := workers.New(b.log, b.redisOpt, nil, workers.Config{Queues: queues, Concurrency: b.flags.WorkerConcurrency})
	var waiters kit.Waiters
	w.Mux().HandleFunc(kit.NoopTaskType, func(ctx context.Context, _ *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		waiters.Done(id)
		return nil
	})
	// Low tasks that hold their goroutine until the backlog phase ends.
	hold := make(chan struct{})
	var holdOnce sync.Once
	release := func() { holdOnce.Do(func() { close(hold) }) }
	defer release()
	w.Mux().HandleFunc(holdTaskType, func(ctx context.Context, _ *asynq.Task) error {
		select {
		case <-hold:
		case <-ctx.Done():
		}
		return nil
	})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			b.log.Warn().Err(err).Msg("bench workers stopped with an error")
		}
	}()

	client := asynq.NewClient(b.redisOpt)
	defer client.Close()
	if _, err := b.measure(ctx, "tasks.asynq_noop", "round trip", "baseline.asynq_noop", &kit.Target{MinRatio: 0.9},
		kit.AsynqRoundTrip(client, &waiters, queues.Default)); err != nil {
		return err
	}

	// Priority: with lowBacklog tasks queued on low (every low goroutine
	// held by one), round trips through critical. Its p50/p99 are the
	// pickup latency of a critical task behind a low burst.
	if err := enqueueBacklog(ctx, client, queues.Low, lowBacklog); err != nil {
		return err
	}
	_, err := b.measure(ctx, "tasks.asynq_critical_behind_low", "round trip, "+strconv.Itoa(lowBacklog)+" low queued", "", nil,
		kit.AsynqRoundTrip(client, &waiters, queues.Critical))
	release()
	return err
}

// holdTaskType is the low task of the backlog phase; lowBacklog how many
// are queued.
const (
	holdTaskType = "bench:hold"
	lowBacklog   = 10_000
)

// enqueueBacklog queues n hold tasks on queue.
func enqueueBacklog(ctx context.Context, client *asynq.Client, queue string, n int) error {
	g, gctx := errgroup.WithContext(ctx)
	const writers = 16
	for w := range writers {
		g.Go(func() error {
			for i := w; i < n; i += writers {
				if _, err := client.EnqueueContext(gctx, asynq.NewTask(holdTaskType, nil), asynq.Queue(queue), asynq.MaxRetry(0)); err != nil {
					return fmt.Errorf("enqueue low backlog: %w", err)
				}
			}
			return nil
		})
	}
	return g.Wait()
}

func benchTasksAMQP(ctx context.Context, b *benchRun) error {
	if b.flags.Baselines {
		if err := b.rabbitBaselines(ctx, false); err != nil {
			return err
		}
	}
	conn, err := amqpx.Dial(ctx, b.log, amqpx.ConnConfig{URL: b.cfg.AMQP.URL.Reveal(), Name: "fundigo-bench"})
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	pub, err := amqpx.NewPublisher(conn, amqpx.PublisherConfig{})
	if err != nil {
		return err
	}
	defer pub.Close(context.WithoutCancel(ctx))

	const key = "bench.noop"
	exchange, queue := kit.ScratchName("bench.events"), kit.ScratchName("bench.events.q")
	defer func() {
		_ = kit.RemoveRabbit(b.cfg.AMQP.URL.Reveal(), amqpx.QueueNames(queue), []string{amqpx.DLXName(queue), exchange})
	}()
	spec := func(h amqpx.HandlerFunc) amqpx.ConsumerSpec {
		return amqpx.ConsumerSpec{Queue: queue, Exchange: exchange, Bindings: []string{key},
			Concurrency: b.flags.Consumers, Prefetch: b.flags.Prefetch, DeliveryLimit: b.cfg.AMQP.DeliveryLimit, Handler: h}
	}
	if err := conn.Declare(ctx, spec(nil).Topology()); err != nil {
		return err
	}

	body := make([]byte, b.flags.MessageBytes)
	var seq, published atomic.Int64
	if _, err := b.measure(ctx, "tasks.amqp_publish", "confirmed publish", "baseline.amqp_publish", &kit.Target{MinRatio: 0.9},
		func(ctx context.Context) error {
			id := strconv.FormatInt(seq.Add(1), 10)
			err := pub.Publish(ctx, exchange, key, amqp.Publishing{MessageId: id, Body: body})
			if err == nil {
				published.Add(1)
			}
			return err
		}); err != nil {
		return err
	}

	stopProfile, err := b.profile("tasks.amqp_consume")
	if err != nil {
		return err
	}
	drain, err := kit.DrainRate(ctx, "tasks.amqp_consume", published.Load(), func(ctx context.Context, handled func()) (func(), error) {
		return runConsumer(ctx, conn, b, spec(func(context.Context, amqp.Delivery) error { handled(); return nil }))
	})
	stopProfile()
	drain.Unit, drain.Concurrency = "delivery", b.flags.Consumers
	b.add(drain, "baseline.amqp_consume", &kit.Target{MinRatio: 0.9})
	if err != nil {
		return err
	}

	if b.flags.Baselines {
		if err := b.rabbitRoundTripBaseline(ctx); err != nil {
			return err
		}
	}
	var waiters kit.Waiters
	wait, err := runConsumer(ctx, conn, b, spec(func(_ context.Context, d amqp.Delivery) error {
		waiters.Done(d.MessageId)
		return nil
	}))
	if err != nil {
		return err
	}
	defer wait()
	_, err = b.measure(ctx, "tasks.amqp_roundtrip", "round trip", "baseline.amqp_roundtrip", &kit.Target{MinRatio: 0.9},
		func(ctx context.Context) error {
			id := strconv.FormatInt(seq.Add(1), 10)
			ch := waiters.Add(id)
			if err := pub.Publish(ctx, exchange, key, amqp.Publishing{MessageId: id, Body: body}); err != nil {
				waiters.Forget(id)
				return err
			}
			return waiters.Wait(ctx, id, ch)
		})
	return err
}

// runConsumer runs an amqpx Consumer for spec until ctx ends; wait returns
// once it stopped (after its handlers acked what they held).
func runConsumer(ctx context.Context, conn *amqpx.Conn, b *benchRun, spec amqpx.ConsumerSpec) (wait func(), err error) {
	c, err := amqpx.NewConsumer(conn, b.log, spec)
	if err != nil {
		return nil, fmt.Errorf("new consumer: %w", err)
	}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(cctx); err != nil {
			b.log.Error().Err(err).Msg("bench consumer stopped")
		}
	}()
	return func() { stop(); <-done }, nil
}
