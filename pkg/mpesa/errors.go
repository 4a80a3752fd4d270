package mpesa

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotSent wraps failures that certainly happened before Daraja received
// the request (dial error, DNS, TLS handshake, cancelled before writing).
// Sending again is safe: nobody was prompted.
var ErrNotSent = errors.New("mpesa: request not sent")

// ErrAmbiguous wraps failures after the request was written (timeout waiting
// for the answer, connection reset, unreadable 200, a bare 5xx from a proxy).
// Daraja may have acted on it. For an STK Push this means the customer may
// have been prompted: never send it again; settle it by STK Push Query or by
// its callback.
var ErrAmbiguous = errors.New("mpesa: request outcome unknown")

// Daraja error codes with a handling of their own.
const (
	CodeInvalidToken      = "404.001.03"
	CodeInvalidTokenAlt   = "400.003.01"
	CodeBadRequest        = "400.002.02"
	CodeGeneric500        = "500.001.1001"
	CodeSpikeArrest       = "500.003.02"
	CodeQuotaViolation    = "500.003.03"
	CodeInternalError     = "500.003.1001"
	MessageBeingProcessed = "The transaction is being processed"
)

// APIError is Daraja's answer refusing a request: either its error envelope
// {"requestId","errorCode","errorMessage"} or a 200 whose ResponseCode is
// not "0". Daraja answered, so the request was not acted on.
type APIError struct {
	HTTPStatus int
	RequestID  string
	Code       string // errorCode, or the non-zero ResponseCode
	Message    string // errorMessage / ResponseDescription, verbatim
}

// Error implements error. The message is Daraja's own and carries no secrets.
func (e *APIError) Error() string {
	return fmt.Sprintf("daraja error %s (http %d): %s", e.Code, e.HTTPStatus, e.Message)
}

// Retryable reports whether the same request may succeed later: Daraja was
// busy (spike arrest, quota, internal error) or the subscriber was locked by
// another transaction. Everything else is a request or configuration defect.
func (e *APIError) Retryable() bool {
	switch e.Code {
	case CodeSpikeArrest, CodeQuotaViolation, CodeInternalError:
		return true
	case CodeGeneric500:
		m := strings.ToLower(e.Message)
		return strings.Contains(m, "unable to lock subscriber") || strings.Contains(m, "system is busy")
	}
	return false
}

// InvalidToken reports whether Daraja refused the access token (expired or
// superseded by a newer one), in which case the token is refreshed once and
// the request sent once more.
func (e *APIError) InvalidToken() bool {
	return e.Code == CodeInvalidToken || e.Code == CodeInvalidTokenAlt
}

// BeingProcessed reports whether an STK Query answer means "the customer is
// still on the prompt": pending, ask again later.
func (e *APIError) BeingProcessed() bool {
	return e.Code == CodeGeneric500 && strings.Contains(strings.ToLower(e.Message), "being processed")
}

// Retryable reports whether err is safe to retry as the same request: it was
// never sent or Daraja said it was temporarily busy.
func Retryable(err error) bool {
	if errors.Is(err, ErrNotSent) {
		return true
	}
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Retryable()
}
