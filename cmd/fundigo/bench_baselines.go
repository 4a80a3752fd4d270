package main

import (
	"context"
	"errors"

	"fundigo/pkg/bench"
)

// baseline measures one raw baseline with fn (profiled like a scenario
// phase, so the two profiles can be compared) and adds its results.
func (b *benchRun) baseline(phase string, fn func(opts bench.Options) ([]bench.Result, error)) error {
	stop, err := b.profile(phase)
	if err != nil {
		return err
	}
	results, err := fn(b.options(phase))
	stop()
	for _, r := range results {
		b.add(r, "", nil)
	}
	return err
}

// rabbitConfig shapes the raw RabbitMQ baselines like our consumers.
func (b *benchRun) rabbitConfig() bench.RabbitConfig {
	return bench.RabbitConfig{URL: b.cfg.AMQP.URL.Reveal(), MessageBytes: b.flags.messageBytes,
		Consumers: b.flags.consumers, Prefetch: b.flags.prefetch}
}

// benchBaselines measures every raw baseline and nothing else.
func benchBaselines(ctx context.Context, b *benchRun) error {
	return errors.Join(b.pgBaseline(ctx), b.rabbitBaselines(ctx, true), b.asynqBaseline(ctx))
}

func (b *benchRun) pgBaseline(ctx context.Context) error {
	return b.baseline("baseline.pg_commit", func(o bench.Options) ([]bench.Result, error) {
		res, err := bench.PostgresCommit(ctx, b.cfg.Database.URL.Reveal(), b.flags.messageBytes, o)
		return []bench.Result{res}, err
	})
}

func (b *benchRun) asynqBaseline(ctx context.Context) error {
	return b.baseline("baseline.asynq_noop", func(o bench.Options) ([]bench.Result, error) {
		res, err := bench.AsynqNoop(ctx, b.redisOpt, b.flags.workerConcurrency, o)
		return []bench.Result{res}, err
	})
}

// rabbitBaselines measures raw publish and consume, and (roundTrip) raw
// publish → consume round trips.
func (b *benchRun) rabbitBaselines(ctx context.Context, roundTrip bool) error {
	err := b.baseline("baseline.amqp_publish", func(o bench.Options) ([]bench.Result, error) {
		pub, cons, err := bench.RabbitPublishConsume(ctx, b.rabbitConfig(), o)
		return []bench.Result{pub, cons}, err
	})
	if err != nil || !roundTrip {
		return err
	}
	return b.rabbitRoundTripBaseline(ctx)
}

func (b *benchRun) rabbitRoundTripBaseline(ctx context.Context) error {
	return b.baseline("baseline.amqp_roundtrip", func(o bench.Options) ([]bench.Result, error) {
		res, err := bench.RabbitRoundTrip(ctx, b.rabbitConfig(), o)
		return []bench.Result{res}, err
	})
}
