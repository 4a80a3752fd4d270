// Package payouts adapts the payout domain (pkg/payout) to the workers: the
// B2C submit and reconcile tasks, and the consumer applying stored B2C and
// Transaction Status answers.
package payouts

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
	"fundigo/pkg/payout"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// Deps are the payout commands' dependencies plus the consumer's settings.
type Deps struct {
	payout.Deps
	QueuePrefix   string
	DeliveryLimit int
	// Concurrency of the answers consumer (default 8).
	Concurrency int
}

// Register adds the payout task handlers to mux, or reports invalid deps.
func Register(mux *asynq.ServeMux, deps Deps) error {
	if err := deps.Validate(true); err != nil {
		return fmt.Errorf("payouts workers: %w", err)
	}
	mux.Handle(tasks.TypePayoutSubmit, tasks.JSON(handleSubmit(deps.Deps)))
	mux.Handle(tasks.TypePayoutsReconcile, handleReconcile(deps.Deps))
	return nil
}

// TaskTypes are the task types Register handles.
func TaskTypes() []string { return []string{tasks.TypePayoutSubmit, tasks.TypePayoutsReconcile} }

// AnswersQueue is the AMQP queue of the answers consumer.
func AnswersQueue(prefix string) string { return prefix + "payouts.daraja_results" }

// Consumers returns the consumer applying stored B2C and Transaction Status
// answers announced by the inbox relay.
func Consumers(deps Deps) ([]amqpx.ConsumerSpec, error) {
	if err := deps.Validate(true); err != nil {
		return nil, fmt.Errorf("payouts workers: %w", err)
	}
	if deps.Concurrency == 0 {
		deps.Concurrency = 8
	}
	return []amqpx.ConsumerSpec{{
		Queue:         AnswersQueue(deps.QueuePrefix),
		Bindings:      []string{events.RoutingKeyDarajaResultReceived},
		Concurrency:   deps.Concurrency,
		DeliveryLimit: deps.DeliveryLimit,
		Name:          amqpx.FuncName(handleAnswerNotice),
		Handler:       amqpx.JSON(handleAnswerNotice(deps.Deps)),
	}}, nil
}

// handleSubmit is the mpesa:b2c_submit task: payout.Submit.
func handleSubmit(d payout.Deps) tasks.Handler[tasks.PayoutSubmitPayload] {
	return func(ctx context.Context, pl tasks.PayoutSubmitPayload) error {
		return payout.Submit(ctx, d, pl.PayoutID)
	}
}

// handleReconcile is the payouts:reconcile task.
func handleReconcile(d payout.Deps) asynq.HandlerFunc {
	return func(ctx context.Context, _ *asynq.Task) error { return payout.Reconcile(ctx, d) }
}

// handleAnswerNotice applies one stored answer (payout.ApplyInboxRow);
// redeliveries change nothing, and one that can never apply is
// dead-lettered for an operator.
func handleAnswerNotice(d payout.Deps) amqpx.Handler[inbox.Notice] {
	return func(ctx context.Context, n inbox.Notice) error {
		if n.InboxID == 0 {
			return outcome.Permanent(errors.New("daraja answer notice without inbox_id"))
		}
		err := payout.ApplyInboxRow(ctx, d, n.InboxID)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, mpesa.ErrInvalidResult) {
			return outcome.Permanent(err)
		}
		return err
	}
}
