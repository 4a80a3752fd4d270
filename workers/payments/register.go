package payments

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
	"fundigo/pkg/inbox"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/outcome"
	"fundigo/pkg/payment"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// Deps are the payment commands' dependencies plus the consumer's settings.
type Deps struct {
	payment.Deps
	// QueuePrefix names the AMQP queue of the callback consumer.
	QueuePrefix   string
	DeliveryLimit int
	// Concurrency of the callback consumer (default 8).
	Concurrency int
}

// Register adds the payments task handlers to mux, or reports invalid deps.
func Register(mux *asynq.ServeMux, deps Deps) error {
	if err := deps.Validate(true); err != nil {
		return fmt.Errorf("payments workers: %w", err)
	}
	pusher := payment.NewPusher(deps.Deps, payment.PushConfig{Window: deps.Config.PushWindow, MaxBatch: deps.Config.PushBatch})
	mux.Handle(tasks.TypeSTKPush, tasks.JSON(handleSTKPush(pusher)))
	mux.Handle(tasks.TypePaymentsReconcile, handleReconcile(deps.Deps))
	d := deps.Deps
	if d.QueryLimiter == nil {
		d.QueryLimiter = payment.NewQueryLimiter(d.Config)
	}
	mux.Handle(tasks.TypePaymentConfirm, tasks.JSON(handleConfirm(d)))
	return nil
}

// TaskTypes are the task types Register handles, for listings that must
// not build the workers (`fundigo scheduler list`).
func TaskTypes() []string { return []string{tasks.TypeSTKPush, tasks.TypePaymentsReconcile} }

// CallbackQueue is the AMQP queue of the STK callback consumer.
func CallbackQueue(prefix string) string { return prefix + "payments.stk_callbacks" }

// Consumers returns the RabbitMQ consumers of the payments domain: the
// applier of stored STK callbacks (first) and of C2B confirmations. It
// reports invalid deps.
func Consumers(deps Deps) ([]amqpx.ConsumerSpec, error) {
	if err := deps.Validate(true); err != nil {
		return nil, fmt.Errorf("payments workers: %w", err)
	}
	if deps.Concurrency == 0 {
		deps.Concurrency = 8
	}
	return []amqpx.ConsumerSpec{{
		Queue:         CallbackQueue(deps.QueuePrefix),
		Bindings:      []string{events.RoutingKeySTKCallbackReceived},
		Concurrency:   deps.Concurrency,
		DeliveryLimit: deps.DeliveryLimit,
		Name:          amqpx.FuncName(handleCallbackNotice),
		Handler:       amqpx.JSON(handleCallbackNotice(deps.Deps)),
	}, {
		Queue:         deps.QueuePrefix + "payments.c2b_confirmations",
		Bindings:      []string{events.RoutingKeyC2BConfirmationReceived},
		Concurrency:   deps.Concurrency,
		DeliveryLimit: deps.DeliveryLimit,
		Name:          amqpx.FuncName(handleC2BNotice),
		Handler:       amqpx.JSON(handleC2BNotice(deps.Deps)),
	}}, nil
}

// handleSTKPush is the mpesa:stk_push task: the process's Pusher, told
// whether this is the last attempt.
func handleSTKPush(pu *payment.Pusher) tasks.Handler[tasks.STKPushPayload] {
	return func(ctx context.Context, pl tasks.STKPushPayload) error {
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, known := asynq.GetMaxRetry(ctx)
		return pu.Push(ctx, pl.PaymentID, payment.PushAttempt{Retried: retried, Last: known && retried >= maxRetry})
	}
}

// handleReconcile is the payments:reconcile task.
func handleReconcile(d payment.Deps) asynq.HandlerFunc {
	return func(ctx context.Context, _ *asynq.Task) error { return payment.Reconcile(ctx, d) }
}

// handleConfirm is the payments:confirm task: payment.Confirm. Daraja still
// processing the push (payment.ErrNotConfirmed) and transient errors are
// retried with backoff; a turn at the STK Query rate that is too far away
// (payment.ErrQueryRateBusy, a tasks.RetryAfter) is retried no sooner than
// that turn, without holding the goroutine meanwhile.
func handleConfirm(d payment.Deps) tasks.Handler[tasks.PaymentConfirmPayload] {
	return func(ctx context.Context, pl tasks.PaymentConfirmPayload) error {
		return payment.Confirm(ctx, d, pl.CheckoutRequestID)
	}
}

// handleCallbackNotice applies one stored STK callback announced by the
// inbox relay, as the applier would (payment.ApplyInboxRow). Redeliveries are
// harmless (the inbox row is claimed once). A notice that can never be
// applied (bad JSON, no inbox id) is dead-lettered for an operator.
func handleCallbackNotice(d payment.Deps) amqpx.Handler[inbox.Notice] {
	return func(ctx context.Context, n inbox.Notice) error {
		if n.InboxID == 0 {
			return outcome.Permanent(errors.New("stk callback notice without inbox_id"))
		}
		err := payment.ApplyInboxRow(ctx, d, n.InboxID)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, mpesa.ErrInvalidCallback) {
			return outcome.Permanent(err)
		}
		return err
	}
}

// Applier returns the batched applier of stored STK callbacks (claims inbox
// rows straight from PostgreSQL), sized by the FUNDIGO_PAYMENTS_APPLY_*
// settings in deps.Config.
func Applier(deps Deps) (*payment.Applier, error) {
	c := deps.Config
	return payment.NewApplier(deps.Deps, payment.ApplierConfig{BatchSize: c.ApplyBatch, Workers: c.ApplyWorkers,
		MaxAttempts: c.ApplyMaxAttempts})
}

// handleC2BNotice applies one stored C2B confirmation (payment.ApplyC2B):
// it pays the matching Pay Bill payment or keeps the money as unallocated
// funds; redeliveries change nothing.
func handleC2BNotice(d payment.Deps) amqpx.Handler[inbox.Notice] {
	return func(ctx context.Context, n inbox.Notice) error {
		if n.InboxID == 0 {
			return outcome.Permanent(errors.New("c2b confirmation notice without inbox_id"))
		}
		_, err := payment.ApplyC2B(ctx, d, n.InboxID)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, mpesa.ErrInvalidC2B) {
			return outcome.Permanent(err)
		}
		return err
	}
}
