package payment

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"fundigo/pkg/store"
)

// DB is what the payment queries need; *pgxpool.Pool and pgx.Tx both
// satisfy it, so the same queries run alone or inside a caller's transaction.
type DB = store.DB

// Status is where a payment stands. Transitions (all conditional):
//
//	pending           -> awaiting_callback | failed
//	awaiting_callback -> paid | failed | needs_review
//	failed            -> needs_review   (money moved after a failure)
//	paid              -> needs_review   (a second, different receipt)
type Status string

// The payment statuses of the REST contract.
const (
	Pending          Status = "pending"
	AwaitingCallback Status = "awaiting_callback"
	// AwaitingPayment is a Pay Bill payment: no push; the customer pays
	// AccountReference and the C2B confirmation settles it.
	AwaitingPayment Status = "awaiting_payment"
	Paid            Status = "paid"
	Failed          Status = "failed"
	NeedsReview     Status = "needs_review"
)

// Payment is one STK Push payment. Optional text columns read as "".
type Payment struct {
	ID                string // a UUID in canonical form
	JobID             string
	CustomerID        string
	Phone             string // 254XXXXXXXXX; mask before logging or showing
	Amount            int64  // whole KES
	Description       string
	TechnicianID      string // the job's technician, "" when the caller did not say
	Method            Method
	AccountReference  string // Pay Bill account number (paybill only)
	Status            Status
	FailureReason     string
	ReviewReason      string
	ResultCode        string
	ResultDesc        string
	MpesaReceipt      string
	MerchantRequestID string
	CheckoutRequestID string
	PushAmbiguous     bool
	PushStartedAt     *time.Time
	PushedAt          *time.Time
	LastQueriedAt     *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// New is what Store.Create inserts; ID is chosen by the caller (a UUID) so
// the Asynq task id can equal it.
type New struct {
	ID          string
	JobID       string
	CustomerID  string
	Phone       string
	Amount      int64
	Description string
	CreatedAt   time.Time
	// TechnicianID is optional: "" stores NULL.
	TechnicianID string
	// Method is stk (default) or paybill; a paybill payment is created
	// awaiting_payment with AccountReference.
	Method           Method
	AccountReference string
	// Owner, if set, is the principal that accepted the payment: it and the
	// customer are recorded as the owners of its push task (task id =
	// payment id, GET /v1/tasks/{id}), in the statement that inserts the
	// payment. OwnerUser is the user the owner acts for ("": the customer).
	Owner, OwnerUser string
}

// Method is how the customer pays.
type Method string

// The payment methods.
const (
	MethodSTK     Method = "stk"
	MethodPaybill Method = "paybill"
)

// Outcome is the result written by a final transition.
type Outcome struct {
	ResultCode string
	ResultDesc string
	Receipt    string // paid / needs_review with evidence of money
	Reason     string // failure_reason (failed) or review_reason (needs_review)
	At         time.Time
}

// ParseID parses a payment id. A malformed id names no payment: the error
// wraps store.ErrNotFound, so callers answer 404 without asking the database.
func ParseID(id string) (uuid.UUID, error) {
	u, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		return uuid.UUID{}, fmt.Errorf("payment id %.40q: %w", id, store.ErrNotFound)
	}
	return u, nil
}
