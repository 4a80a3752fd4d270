package payout

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"fundigo/pkg/events"
	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/store"
)

// Status is where a payout stands (see the package doc for transitions).
type Status string

// The payout statuses of the REST contract.
const (
	Pending     Status = "pending"
	Submitted   Status = "submitted"
	Succeeded   Status = "succeeded"
	Failed      Status = "failed"
	Unknown     Status = "unknown"
	NeedsReview Status = "needs_review"
)

// FailureReason is why a payout failed; the set is part of the REST contract.
type FailureReason string

// The failure reasons.
const (
	ReasonInsufficientBalance FailureReason = "insufficient_balance"
	ReasonInitiatorInvalid    FailureReason = "initiator_invalid"
	ReasonInvalidReceiver     FailureReason = "invalid_receiver"
	ReasonOther               FailureReason = "other"
)

// ReasonFor maps a B2C result code to a failure reason, on the code only
// (ResultDesc texts drift): 1 is the utility account's balance, 2001 the
// initiator's credentials, and the codes that say the receiving number
// cannot take the money (not on M-Pesa, unregistered, locked, at its limits)
// are invalid_receiver.
func ReasonFor(code string) FailureReason {
	switch mpesa.NormalizeResultCode(code) {
	case mpesa.ResultB2CInsufficientBalance:
		return ReasonInsufficientBalance
	case mpesa.ResultInitiatorInvalid:
		return ReasonInitiatorInvalid
	case "4", "8", "11", "2006", "2040", "SFC_IC0003", "C2B00011":
		return ReasonInvalidReceiver
	}
	return ReasonOther
}

// Payout is one B2C payout. Optional text columns read as "".
type Payout struct {
	ID                       string
	TechnicianID             string
	JobID                    string
	Phone                    string // 254XXXXXXXXX; mask before logging or showing
	Amount                   int64  // whole KES
	Remarks                  string
	Status                   Status
	FailureReason            string
	ReviewReason             string
	ResultCode               string
	ResultDesc               string
	MpesaReceipt             string
	OriginatorConversationID string
	ConversationID           string
	SubmitStartedAt          *time.Time
	SubmittedAt              *time.Time
	CompletedAt              *time.Time
	StatusQueryOriginatorID  string
	StatusQueryConversation  string
	StatusQuerySentAt        *time.Time
	StatusQueries            int
	NextQueryAt              *time.Time
	CreatedAt                time.Time
	UpdatedAt                time.Time
}

// Final reports whether no Daraja answer is awaited any more.
func (p Payout) Final() bool {
	return p.Status == Succeeded || p.Status == Failed || p.Status == NeedsReview
}

// ParseID parses a payout id; a malformed id wraps store.ErrNotFound.
func ParseID(id string) (uuid.UUID, error) {
	u, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		return uuid.UUID{}, fmt.Errorf("payout id %.40q: %w", id, store.ErrNotFound)
	}
	return u, nil
}

// View is the payout as the REST API and the payout.* events show it.
func (p Payout) View() events.Payout {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	v := events.Payout{
		ID: p.ID, TechnicianID: p.TechnicianID, JobID: p.JobID, Phone: logging.MaskMSISDN(p.Phone),
		Amount: p.Amount, Remarks: p.Remarks, Status: string(p.Status), FailureReason: opt(p.FailureReason),
		ResultCode: opt(p.ResultCode), ResultDesc: opt(p.ResultDesc), MpesaReceipt: opt(p.MpesaReceipt),
		OriginatorConversationID: p.OriginatorConversationID, ConversationID: opt(p.ConversationID),
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	if p.StatusQueryOriginatorID != "" && p.StatusQuerySentAt != nil {
		v.StatusQuery = &events.StatusQuery{OriginatorConversationID: p.StatusQueryOriginatorID,
			ConversationID: opt(p.StatusQueryConversation), SentAt: *p.StatusQuerySentAt}
	}
	return v
}
