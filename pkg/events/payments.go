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

// PaymentMessageID is the deterministic outbox/AMQP message id of a payment
// event, so writing the same transition twice publishes it once.
func PaymentMessageID(routingKey, paymentID string) string { return routingKey + ":" + paymentID }
