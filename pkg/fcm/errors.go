package fcm

import (
	"errors"
	"fmt"
	"time"
)

// FCM error codes (google.firebase.fcm.v1.FcmError errorCode).
const (
	CodeUnregistered         = "UNREGISTERED"
	CodeInvalidArgument      = "INVALID_ARGUMENT"
	CodeSenderIDMismatch     = "SENDER_ID_MISMATCH"
	CodeQuotaExceeded        = "QUOTA_EXCEEDED"
	CodeUnavailable          = "UNAVAILABLE"
	CodeInternal             = "INTERNAL"
	CodeThirdPartyAuthError  = "THIRD_PARTY_AUTH_ERROR"
	CodeUnspecifiedErrorCode = "UNSPECIFIED_ERROR"
)

// ErrUnregistered matches an *Error whose token is dead for this sender
// (UNREGISTERED or SENDER_ID_MISMATCH): stop sending to it.
var ErrUnregistered = errors.New("fcm token unregistered")

// ErrInvalidMessage: the message was refused before sending (no token, or a
// payload over 4096 bytes).
var ErrInvalidMessage = errors.New("invalid fcm message")

// Error is FCM's answer to a failed send.
type Error struct {
	HTTPStatus int
	Status     string // google.rpc status, e.g. NOT_FOUND
	Code       string // FcmError errorCode, e.g. UNREGISTERED; may be empty
	Message    string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("fcm: http %d %s %s: %s", e.HTTPStatus, e.Status, e.Code, e.Message)
}

// Is matches ErrUnregistered.
func (e *Error) Is(target error) bool {
	return target == ErrUnregistered && (e.Code == CodeUnregistered || e.Code == CodeSenderIDMismatch)
}

// Temporary reports whether FCM asked to retry later.
func (e *Error) Temporary() bool {
	switch e.Code {
	case CodeQuotaExceeded, CodeUnavailable, CodeInternal:
		return true
	}
	return e.HTTPStatus == 429 || e.HTTPStatus == 500 || e.HTTPStatus == 503
}

// IsTemporary reports whether err may succeed on a later attempt and FCM did
// not take the message: a temporary FCM answer, a temporary token-endpoint
// answer, a network failure, or a context that ended before the send. A
// context that ended during the send is not temporary (FCM may have it).
func IsTemporary(err error) bool {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Temporary()
	}
	var te *TokenError
	if errors.As(err, &te) {
		return te.Temporary()
	}
	var (
		ne *networkError
		ns *notSentError
	)
	return errors.As(err, &ne) || errors.As(err, &ns)
}

// notSentError marks a send abandoned before the request went out.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return "fcm: not sent: " + e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

type networkError struct{ err error }

func (e *networkError) Error() string { return "fcm: network: " + e.err.Error() }
func (e *networkError) Unwrap() error { return e.err }
