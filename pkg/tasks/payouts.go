package tasks

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Payouts task types.
const (
	// TypePayoutSubmit sends the B2C request of one payout. Task id = payout
	// id. The handler claims the payout (submit_started_at, committed before
	// the request goes out), so the request is sent at most once whatever
	// the retries, crashes and duplicate tasks; a claimed payout without a
	// recorded answer is settled by Transaction Status.
	TypePayoutSubmit = "mpesa:b2c_submit"
	// TypePayoutsReconcile sends Transaction Status queries for payouts
	// whose result is late (submitted or unknown), with backoff, moves those
	// past the final deadline to needs_review and re-drives pending payouts
	// whose task was lost. Scheduled every minute.
	TypePayoutsReconcile = "payouts:reconcile"
)

// PayoutSubmitPayload names the payout to send.
type PayoutSubmitPayload struct {
	PayoutID string `json:"payout_id"`
}

// Validate requires the payout id.
func (p *PayoutSubmitPayload) Validate() error {
	if p.PayoutID == "" {
		return errors.New("payout_id is required")
	}
	return nil
}

// PayoutSubmitMaxRetry bounds retries of a B2C request that certainly did
// not reach Daraja.
const PayoutSubmitMaxRetry = 8

// NewPayoutSubmit builds the submit task of payoutID on queue.
func NewPayoutSubmit(payoutID, queue string) (*asynq.Task, error) {
	b, err := json.Marshal(PayoutSubmitPayload{PayoutID: payoutID})
	if err != nil {
		return nil, fmt.Errorf("marshal %s payload: %w", TypePayoutSubmit, err)
	}
	return asynq.NewTask(TypePayoutSubmit, b, asynq.TaskID("payout:"+payoutID), asynq.Queue(queue),
		asynq.MaxRetry(PayoutSubmitMaxRetry), asynq.Timeout(time.Minute), asynq.Retention(time.Hour)), nil
}

// NewPayoutsReconcile builds a payout reconciliation run.
func NewPayoutsReconcile(queue string) *asynq.Task {
	return asynq.NewTask(TypePayoutsReconcile, []byte("{}"), asynq.Queue(queue),
		asynq.MaxRetry(0), asynq.Timeout(50*time.Second))
}
