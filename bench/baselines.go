package bench

import (
	"context"
	"errors"

	kit "fundigo/pkg/bench"
)

// baseline measures one raw baseline with fn (profiled like a scenario
// phase, so the two profiles can be compared) and adds its results.
func (b *benchRun) baseline(phase string, fn func(opts kit.Options) ([]kit.Result, error)) error {
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
func (b *benchRun) rabbitConfig() kit.RabbitConfig {
	return kit.RabbitConfig{URL: b.cfg.AMQP.URL.Reveal(), MessageBytes: b.flags.MessageBytes,
		Consumers: b.flags.Consumers, Prefetch: b.flags.Prefetch}
}

// benchBaselines measures every raw baseline and nothing else.
func benchBaselines(ctx context.Context, b *benchRun) error {
	return errors.Join(b.pgBaseline(ctx), b.rabbitBaselines(ctx, true), b.asynqBaseline(ctx))
}

func (b *benchRun) pgBaseline(ctx context.Context) error {
	return b.baseline("baseline.pg_commit", func(o kit.Options) ([]kit.Result, error) {
		res, err := kit.PostgresCommit(ctx, b.cfg.Database.URL.Reveal(), b.flags.MessageBytes, o)
		return []kit.Result{res}, err
	})
}

func (b *benchRun) asynqBaseline(ctx context.Context) error {
	return b.baseline("baseline.asynq_noop", func(o kit.Options) ([]kit.Result, error) {
		res, err := kit.AsynqNoop(ctx, b.redisOpt, b.flags.WorkerConcurrency, o)
		return []kit.Result{res}, err
	})
}

// rabbitBaselines measures raw publish and consume, and (roundTrip) raw
// publish → consume round trips.
func (b *benchRun) rabbitBaselines(ctx context.Context, roundTrip bool) error {
	err := b.baseline("baseline.amqp_publish", func(o kit.Options) ([]kit.Result, error) {
		pub, cons, err := kit.RabbitPublishConsume(ctx, b.rabbitConfig(), o)
		return []kit.Result{pub, cons}, err
	})
	if err != nil || !roundTrip {
		return err
	}
	return b.rabbitRoundTripBaseline(ctx)
}

func (b *benchRun) rabbitRoundTripBaseline(ctx context.Context) error {
	return b.baseline("baseline.amqp_roundtrip", func(o kit.Options) ([]kit.Result, error) {
		res, err := kit.RabbitRoundTrip(ctx, b.rabbitConfig(), o)
		return []kit.Result{res}, err
	})
}
