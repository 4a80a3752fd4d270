package events

import "time"

// Payouts routing keys on the events exchange: one per payout status that
// is announced, plus the treasury alert.
const (
	RoutingKeyPayoutSubmitted   = "payout.submitted"
	RoutingKeyPayoutSucceeded   = "payout.succeeded"
	RoutingKeyPayoutFailed      = "payout.failed"
	RoutingKeyPayoutUnknown     = "payout.unknown"
	RoutingKeyPayoutNeedsReview = "payout.needs_review"
	// RoutingKeyPayoutBalanceLow carries a PayoutBalanceLow: a B2C result
	// reported a utility account balance below FUNDIGO_PAYOUTS_LOW_BALANCE.
	RoutingKeyPayoutBalanceLow = "payout.balance_low"
	// RoutingKeyDarajaResultReceived announces a stored B2C or Transaction
	// Status result or timeout (an inbox.Notice); the payouts worker applies it.
	RoutingKeyDarajaResultReceived = "mpesa.result.received"
	// RoutingKeyC2BConfirmationReceived announces a stored C2B confirmation
	// (an inbox.Notice); the payments worker matches it.
	RoutingKeyC2BConfirmationReceived = "mpesa.c2b_confirmation.received"
)

// StatusQuery is the last Transaction Status query sent for a payout: its
// own ids, which the outer envelope of its result carries.
type StatusQuery struct {
	OriginatorConversationID string    `json:"originator_conversation_id"`
	ConversationID           *string   `json:"conversation_id"`
	SentAt                   time.Time `json:"sent_at"`
}

// Payout is the payout JSON of the REST API (GET /v1/payouts/{id}) and of
// the payout.* events; the phone is masked.
type Payout struct {
	ID                       string       `json:"id"`
	TechnicianID             string       `json:"technician_id"`
	JobID                    string       `json:"job_id"`
	Phone                    string       `json:"phone"`
	Amount                   int64        `json:"amount"`
	Remarks                  string       `json:"remarks"`
	Status                   string       `json:"status"`
	FailureReason            *string      `json:"failure_reason"`
	ResultCode               *string      `json:"result_code"`
	ResultDesc               *string      `json:"result_desc"`
	MpesaReceipt             *string      `json:"mpesa_receipt"`
	OriginatorConversationID string       `json:"originator_conversation_id"`
	ConversationID           *string      `json:"conversation_id"`
	StatusQuery              *StatusQuery `json:"status_query"`
	CreatedAt                time.Time    `json:"created_at"`
	UpdatedAt                time.Time    `json:"updated_at"`
}

// RoutingKey is the event of the payout's status ("" for pending).
func (p Payout) RoutingKey() string {
	switch p.Status {
	case "submitted":
		return RoutingKeyPayoutSubmitted
	case "succeeded":
		return RoutingKeyPayoutSucceeded
	case "failed":
		return RoutingKeyPayoutFailed
	case "unknown":
		return RoutingKeyPayoutUnknown
	case "needs_review":
		return RoutingKeyPayoutNeedsReview
	}
	return ""
}

// MessageID is "payout.<status>:<payout_id>": each payout announces each
// status once, however often the transition is retried.
func (p Payout) MessageID() string { return p.RoutingKey() + ":" + p.ID }

// PayoutBalanceLow is the treasury alert of a low utility account.
type PayoutBalanceLow struct {
	PayoutID     string    `json:"payout_id"`
	UtilityCents int64     `json:"utility_cents"`
	ThresholdKES int64     `json:"threshold_kes"`
	ReportedAt   time.Time `json:"reported_at"`
}

// RoutingKey is payout.balance_low.
func (PayoutBalanceLow) RoutingKey() string { return RoutingKeyPayoutBalanceLow }

// MessageID is one alert per reporting payout.
func (e PayoutBalanceLow) MessageID() string { return RoutingKeyPayoutBalanceLow + ":" + e.PayoutID }
