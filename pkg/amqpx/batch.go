package amqpx

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"fundigo/pkg/outcome"
)

// BatchHandlerFunc handles several deliveries of one queue in one call, for
// work that is cheaper set-based (one Redis pipeline, one INSERT … SELECT
// FROM unnest) than one message at a time (ConsumerSpec.BatchHandler).
//
// It returns nil when every delivery was handled, else one error per
// delivery, in order. Each delivery is settled by its own error exactly as
// by a HandlerFunc's (classified, then ack, dead-letter or delayed
// redelivery, the delivery limit included), and gets the per-delivery
// logging, metrics and trace span a single handler's delivery gets, so one
// poison message fails alone. A panic fails every delivery of the batch
// with a retryable error: none is acked. A result slice of another length
// is a bug and fails the batch the same way.
//
// The handler must be idempotent per delivery and must not ack. ctx carries
// the consumer's logger and ends after ConsumerSpec.HandlerTimeout, not at
// shutdown; batch[i].Info is what InfoFrom gives a single handler.
type BatchHandlerFunc func(ctx context.Context, batch []Delivery) []error

// DefaultMaxBatch is ConsumerSpec.MaxBatch's default.
const DefaultMaxBatch = 100

// Delivery is one message of a batch and what the consumer knows of it.
type Delivery struct {
	amqp.Delivery
	Info Info
}

// Decoded is one message of a batch decoded by JSONBatch, with the Info of
// its delivery (routing key, message id, attempt).
type Decoded[T any] struct {
	Info Info
	Msg  T
}

// BatchHandler handles events decoded from JSON bodies, a batch at a time:
// Handler's batch form. It returns nil or one error per message, in order.
type BatchHandler[T any] func(ctx context.Context, batch []Decoded[T]) []error

// JSONBatch adapts h to a BatchHandlerFunc with JSON's decoding rules: a
// body that does not decode or validate fails its own delivery permanently
// and does not reach h; h gets the others (and is not called when there are
// none).
func JSONBatch[T any](h BatchHandler[T], opts ...DecodeOption) BatchHandlerFunc {
	cfg := decodeConfig{maxBody: DefaultMaxBody}
	for _, o := range opts {
		o(&cfg)
	}
	return func(ctx context.Context, batch []Delivery) []error {
		errs := make([]error, len(batch))
		msgs := make([]Decoded[T], 0, len(batch))
		at := make([]int, 0, len(batch)) // msgs[j] is batch[at[j]]
		for i, d := range batch {
			msg, err := decode[T](d.Delivery, cfg)
			if err != nil {
				errs[i] = outcome.Permanent(fmt.Errorf("decode %s message %s: %w", d.Info.RoutingKey, d.MessageId, err))
				continue
			}
			msgs = append(msgs, Decoded[T]{Info: d.Info, Msg: msg})
			at = append(at, i)
		}
		if len(msgs) == 0 {
			return errs
		}
		for j, err := range results(h(ctx, msgs), len(msgs)) {
			errs[at[j]] = err
		}
		return errs
	}
}

// WrapBatch applies per-delivery middleware to a batch handler, so a batch
// consumer gets the wrappers (metrics, error reporting) a single one gets:
// bh runs once for the batch, then each delivery's result goes through the
// chain of mws (the first outermost) as if a HandlerFunc had returned it
// for that delivery, in the delivery's own context (from the consumer: its
// logger, Info and trace span; otherwise ctx with its Info). The chain is
// built once per batch, not per delivery. A panic in bh reaches each
// delivery's chain as that panic (a wrapper that recovers and re-panics
// sees it), then leaves WrapBatch with its original stack. A middleware
// that panics on one delivery fails that delivery (retryable).
func WrapBatch(bh BatchHandlerFunc, mws ...MiddlewareFunc) BatchHandlerFunc {
	if len(mws) == 0 {
		return bh
	}
	return func(ctx context.Context, batch []Delivery) []error {
		errs, p := callBatch(ctx, bh, batch)
		var result error // the result h replays, set per delivery
		h := Chain(func(context.Context, amqp.Delivery) error {
			if p != nil {
				panic(p)
			}
			return result
		}, mws...)
		ctxs := deliveryContexts(ctx, batch)
		for i := range batch {
			result = errs[i]
			errs[i] = replay(ctxs[i], h, batch[i].Delivery, p != nil)
		}
		if p != nil {
			panic(p)
		}
		return errs
	}
}

// replay runs h for one delivery of a batch. A panic fails the delivery
// (retryable); unless it is the batch's own (rethrown by WrapBatch), its
// stack is logged, as Consumer.call does for a single delivery.
func replay(ctx context.Context, h HandlerFunc, d amqp.Delivery, batchPanicked bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
			if !batchPanicked {
				zerolog.Ctx(ctx).Error().Str("stack", string(debug.Stack())).Msg("middleware panicked")
			}
		}
	}()
	return h(ctx, d)
}

// batchPanic is a panic of a batch handler with the stack where it
// happened, carried through WrapBatch's rethrow.
type batchPanic struct {
	value any
	stack []byte
}

func (p *batchPanic) String() string { return fmt.Sprint(p.value) }

// callBatch calls bh and returns one result per delivery, or the panic bh
// raised (and len(batch) nil results).
func callBatch(ctx context.Context, bh BatchHandlerFunc, batch []Delivery) (errs []error, p *batchPanic) {
	defer func() {
		if r := recover(); r != nil {
			if bp, ok := r.(*batchPanic); ok {
				p = bp
			} else {
				p = &batchPanic{value: r, stack: debug.Stack()}
			}
			errs = make([]error, len(batch))
		}
	}()
	return results(bh(ctx, batch), len(batch)), nil
}

// recoverBatch is Recover for a batch: a panic in bh fails every delivery
// of the batch with a retryable error, and its stack is logged once.
func recoverBatch(bh BatchHandlerFunc) BatchHandlerFunc {
	return func(ctx context.Context, batch []Delivery) []error {
		errs, p := callBatch(ctx, bh, batch)
		if p != nil {
			zerolog.Ctx(ctx).Error().Str("stack", string(p.stack)).Int("messages", len(batch)).
				Msg("batch handler panicked")
			err := fmt.Errorf("handler panic: %v", p.value)
			for i := range errs {
				errs[i] = err
			}
		}
		return errs
	}
}

// results is a batch handler's result as one error per delivery: nil is
// all handled; a slice of another length fails every delivery (retryable).
func results(errs []error, n int) []error {
	switch {
	case errs == nil:
		return make([]error, n)
	case len(errs) == n:
		return errs
	}
	err := fmt.Errorf("batch handler returned %d results for %d messages", len(errs), n)
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}

// batchContexts are the per-delivery contexts the consumer made for a
// batch (logger, Info, trace span), found by WrapBatch in the batch's ctx.
type batchContexts struct {
	first *Delivery // &batch[0]: the contexts are for this very slice
	ctxs  []context.Context
}

type batchContextsKey struct{}

// deliveryContexts returns the contexts of batch's deliveries: the
// consumer's when ctx carries them for this batch, else ctx with each
// delivery's Info.
func deliveryContexts(ctx context.Context, batch []Delivery) []context.Context {
	if bc, ok := ctx.Value(batchContextsKey{}).(batchContexts); ok && len(bc.ctxs) == len(batch) &&
		len(batch) > 0 && bc.first == &batch[0] {
		return bc.ctxs
	}
	ctxs := make([]context.Context, len(batch))
	for i := range batch {
		ctxs[i] = WithInfo(ctx, batch[i].Info)
	}
	return ctxs
}

type startKey struct{}

// startedAt is when the handling of the delivery in ctx started: the start
// of its batch, else now (a single handler's middleware runs around it).
func startedAt(ctx context.Context) time.Time {
	if t, ok := ctx.Value(startKey{}).(time.Time); ok {
		return t
	}
	return time.Now()
}
