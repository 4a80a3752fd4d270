package mpesa

import "strings"

// FailureReason is why a payment failed, as stored in payments.failure_reason
// and shown to clients. The set is part of the public REST contract.
type FailureReason string

// The failure reasons. Expired also covers "no answer by the final deadline";
// Rejected means Daraja refused the STK request itself (its errorCode is kept).
const (
	ReasonCancelled         FailureReason = "cancelled"
	ReasonTimeout           FailureReason = "timeout"
	ReasonInsufficientFunds FailureReason = "insufficient_funds"
	ReasonWrongPIN          FailureReason = "wrong_pin"
	ReasonExpired           FailureReason = "expired"
	ReasonRejected          FailureReason = "rejected"
	ReasonOther             FailureReason = "other"
)

// Result codes with a meaning of their own (STK callback and STK Query).
const (
	ResultSuccess           = "0"
	ResultInsufficientFunds = "1"
	ResultExpired           = "1019"
	ResultCancelled         = "1032"
	ResultSMSCTimeout       = "1036"
	ResultTimeout           = "1037"
	ResultWrongPIN          = "2001"
	// ResultStillProcessing is how some Daraja versions answer an STK Query
	// while the customer is still on the prompt.
	ResultStillProcessing = "4999"
)

// NormalizeResultCode trims a result code as received so that 0, "0" and
// " 0 " compare equal. The text is otherwise kept verbatim ("SFC_IC0003").
func NormalizeResultCode(code string) string { return strings.TrimSpace(code) }

// IsSuccess reports whether a callback or query result code means the money moved.
func IsSuccess(code string) bool { return NormalizeResultCode(code) == ResultSuccess }

// ReasonFor maps a non-success result code to a failure reason. Only the
// code is used: ResultDesc texts drift between Daraja versions. Codes with no
// reason of their own (limits, locks, product errors such as 2028 or
// SFC_IC0003) are ReasonOther.
func ReasonFor(code string) FailureReason {
	switch NormalizeResultCode(code) {
	case ResultCancelled:
		return ReasonCancelled
	case ResultTimeout, ResultSMSCTimeout:
		return ReasonTimeout
	case ResultInsufficientFunds:
		return ReasonInsufficientFunds
	case ResultWrongPIN:
		return ReasonWrongPIN
	case ResultExpired:
		return ReasonExpired
	default:
		return ReasonOther
	}
}
