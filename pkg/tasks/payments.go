package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Payments task types.
const (
	// TypeSTKPush sends the STK Push of one payment to Daraja. Task id =
	// payment id, so a payment is pushed by at most one live task; the handler
	// does nothing unless the payment is still pending, and never re-sends a
	// push whose outcome is unknown.
	TypeSTKPush = "mpesa:stk_push"
	// TypePaymentsReconcile asks Daraja (STK Push Query) about payments
	// waiting too long for their callback, expires those past the final
	// deadline, re-drives pending payments whose task was lost and reports
	// orphan callbacks. Scheduled every minute.
	TypePaymentsReconcile = "payments:reconcile"
	// TypePaymentConfirm asks Daraja (STK Push Query) whether the push of
	// one CheckoutRequestID succeeded, because a success callback for it
	// came from a source that is not trusted, or matched an ambiguous push
	// only by phone and amount; such a callback waits, unapplied, until
	// Daraja confirms (payment.Confirm). Task id = "confirm:" + the
	// CheckoutRequestID, so each payment has at most one live confirmation;
	// "still being processed" is retried with backoff.
	TypePaymentConfirm = "payments:confirm"
)

// PaymentConfirmPayload names the push to confirm.
type PaymentConfirmPayload struct {
	CheckoutRequestID string `json:"checkout_request_id"`
}

// PaymentConfirmMaxRetry bounds the re-asks of a push Daraja still reports
// as being processed: with RetryDelay's backoff (1 s doubling, capped at 5
// min) 12 retries span more than the default 15 min final deadline, after
// which reconciliation settles the payment anyway.
const PaymentConfirmMaxRetry = 12

// NewPaymentConfirm builds the confirmation task of checkoutRequestID on
// queue. No retention: once it succeeded, a later callback may ask again.
func NewPaymentConfirm(ctx context.Context, checkoutRequestID, queue string) (*asynq.Task, error) {
	b, err := json.Marshal(PaymentConfirmPayload{CheckoutRequestID: checkoutRequestID})
	if err != nil {
		return nil, fmt.Errorf("marshal %s payload: %w", TypePaymentConfirm, err)
	}
	return New(ctx, TypePaymentConfirm, b, asynq.TaskID("confirm:"+checkoutRequestID), asynq.Queue(queue),
		asynq.MaxRetry(PaymentConfirmMaxRetry), asynq.Timeout(time.Minute)), nil
}

// STKPushPayload names the payment to push.
type STKPushPayload struct {
	PaymentID string `json:"payment_id"`
}

// STKPushMaxRetry bounds retries of a push that certainly did not reach
// Daraja (connection refused, Daraja busy); on the last attempt the payment
// fails with reason "other".
const STKPushMaxRetry = 8

// NewSTKPush builds the push task of paymentID on queue, carrying ctx's
// trace context.
func NewSTKPush(ctx context.Context, paymentID, queue string) (*asynq.Task, error) {
	b, err := json.Marshal(STKPushPayload{PaymentID: paymentID})
	if err != nil {
		return nil, fmt.Errorf("marshal %s payload: %w", TypeSTKPush, err)
	}
	return New(ctx, TypeSTKPush, b, asynq.TaskID(paymentID), asynq.Queue(queue),
		asynq.MaxRetry(STKPushMaxRetry), asynq.Timeout(time.Minute), asynq.Retention(time.Hour)), nil
}

// NewPaymentsReconcile builds a reconciliation run. The scheduler gives it a
// deterministic task id per tick.
func NewPaymentsReconcile(queue string) *asynq.Task {
	return asynq.NewTask(TypePaymentsReconcile, []byte("{}"), asynq.Queue(queue),
		asynq.MaxRetry(0), asynq.Timeout(50*time.Second))
}

// Validate requires the payment id.
func (p *STKPushPayload) Validate() error {
	if p.PaymentID == "" {
		return errors.New("payment_id is required")
	}
	return nil
}

// Validate requires the CheckoutRequestID.
func (p *PaymentConfirmPayload) Validate() error {
	if p.CheckoutRequestID == "" {
		return errors.New("checkout_request_id is required")
	}
	return nil
}
