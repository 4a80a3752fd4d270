package events

import (
	"time"
)

// Payments routing keys on the events exchange.
const (
	// RoutingKeyPaymentPaid carries a Payment that reached status paid.
	RoutingKeyPaymentPaid = "payment.paid"
	// RoutingKeyPaymentFailed carries a Payment that reached status failed
	// (failure_reason says why).
	RoutingKeyPaymentFailed = "payment.failed"
	// RoutingKeyPaymentNeedsReview carries a Payment an operator must look at
	// (amount or phone mismatch, money after a failure, second receipt).
	RoutingKeyPaymentNeedsReview = "payment.needs_review"
	// RoutingKeyPaymentAwaitingCallback carries a Payment whose STK Push was
	// sent (or may have been: push outcome unknown): the customer has the
	// PIN prompt and the payment waits for Daraja's callback. Live updates
	// (workers/live) forward it; a consumer that only cares about final
	// statuses ignores it.
	RoutingKeyPaymentAwaitingCallback = "payment.awaiting_callback"
	// RoutingKeySTKCallbackReceived announces a stored STK callback (an
	// inbox.Notice); the payments worker applies it.
	RoutingKeySTKCallbackReceived = "mpesa.stk_callback.received"
)

// Payment is the payment JSON of the REST API (GET /v1/payments/{id}) and of
// the payment.* events. The phone is masked ("2547****5678"): events and
// responses are not a place for personal data. TechnicianID is the job's
// technician when the payment's creator gave it (payment.paid then tells the
// technician the job is funded); it is left out of the JSON when unknown.
type Payment struct {
	ID                string    `json:"id"`
	JobID             string    `json:"job_id"`
	CustomerID        string    `json:"customer_id"`
	TechnicianID      string    `json:"technician_id,omitempty"`
	Method            string    `json:"method,omitempty"`
	AccountReference  *string   `json:"account_reference,omitempty"`
	Phone             string    `json:"phone"`
	Amount            int64     `json:"amount"`
	Status            string    `json:"status"`
	FailureReason     *string   `json:"failure_reason"`
	ResultCode        *string   `json:"result_code"`
	ResultDesc        *string   `json:"result_desc"`
	MpesaReceipt      *string   `json:"mpesa_receipt"`
	MerchantRequestID *string   `json:"merchant_request_id"`
	CheckoutRequestID *string   `json:"checkout_request_id"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// RoutingKey is the event of the payment's status: payment.paid,
// payment.failed or payment.needs_review, and "" for a status that is not
// announced (pending, awaiting_callback).
func (p Payment) RoutingKey() string {
	switch p.Status {
	case "paid":
		return RoutingKeyPaymentPaid
	case "failed":
		return RoutingKeyPaymentFailed
	case "needs_review":
		return RoutingKeyPaymentNeedsReview
	}
	return ""
}

// MessageID is the deterministic outbox/AMQP message id of the event
// ("payment.paid:<payment_id>"), so writing the same transition twice
// publishes it once.
func (p Payment) MessageID() string { return p.RoutingKey() + ":" + p.ID }

// PaymentAwaitingCallback is the payment.awaiting_callback event: the
// payment JSON (status awaiting_callback) under its own routing key, written
// when the STK Push went out (or may have).
type PaymentAwaitingCallback struct{ Payment }

// RoutingKey is payment.awaiting_callback.
func (PaymentAwaitingCallback) RoutingKey() string { return RoutingKeyPaymentAwaitingCallback }

// MessageID is "payment.awaiting_callback:<payment_id>", written once per payment.
func (e PaymentAwaitingCallback) MessageID() string {
	return RoutingKeyPaymentAwaitingCallback + ":" + e.ID
}
