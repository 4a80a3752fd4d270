package expo

import (
	"errors"
	"fmt"
	"time"
)

// Per-message error codes Expo puts in details.error of tickets and receipts.
const (
	CodeDeviceNotRegistered = "DeviceNotRegistered"
	CodeMessageTooBig       = "MessageTooBig"
	CodeMessageRateExceeded = "MessageRateExceeded"
	CodeMismatchSenderID    = "MismatchSenderId"
	CodeInvalidCredentials  = "InvalidCredentials"
)

// Sentinels callers branch on with errors.Is.
var (
	// ErrDeviceNotRegistered: the token is dead; stop sending to it until the
	// device registers again. Matches a *MessageError with that code.
	ErrDeviceNotRegistered = errors.New("device not registered")
	// ErrMessageTooBig matches a *MessageError with code MessageTooBig.
	ErrMessageTooBig = errors.New("message too big")
	// ErrMessageRateExceeded matches a *MessageError with code MessageRateExceeded.
	ErrMessageRateExceeded = errors.New("message rate exceeded")
	// ErrInvalidCredentials matches *MessageError codes InvalidCredentials and
	// MismatchSenderId: the project's push credentials need an operator.
	ErrInvalidCredentials = errors.New("invalid push credentials")

	// ErrInvalidToken: a message's recipient is not an Expo push token.
	ErrInvalidToken = errors.New("not an expo push token")
	// ErrPayloadTooLarge: a message's payload exceeds MaxPayloadBytes; it was
	// not sent.
	ErrPayloadTooLarge = errors.New("payload exceeds 4096 bytes")
	// ErrTicketCount: Expo answered with a different number of tickets than
	// messages. The messages may have been accepted, so do not resend them.
	ErrTicketCount = errors.New("ticket count does not match message count")
)

// MessageError is the error of one ticket or receipt.
type MessageError struct {
	Code string // details.error, e.g. DeviceNotRegistered; may be empty
	// Message is Expo's human-readable message. It usually quotes the push
	// token, so Error leaves it out: the error is safe to log.
	Message string
}

func (e *MessageError) Error() string {
	if e.Code == "" {
		return "expo: message error"
	}
	return "expo: " + e.Code
}

// Is lets errors.Is match the sentinels above by code.
func (e *MessageError) Is(target error) bool {
	switch target {
	case ErrDeviceNotRegistered:
		return e.Code == CodeDeviceNotRegistered
	case ErrMessageTooBig:
		return e.Code == CodeMessageTooBig
	case ErrMessageRateExceeded:
		return e.Code == CodeMessageRateExceeded
	case ErrInvalidCredentials:
		return e.Code == CodeInvalidCredentials || e.Code == CodeMismatchSenderID
	}
	return false
}

// RequestError is a failure of a whole request: an HTTP error status, with
// Expo's first error code when it sent one (TOO_MANY_REQUESTS,
// PUSH_TOO_MANY_NOTIFICATIONS, UNAUTHORIZED...).
type RequestError struct {
	StatusCode int
	Code       string
	Message    string
	// RetryAfter is the server's Retry-After, zero when absent.
	RetryAfter time.Duration
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("expo: http %d %s: %s", e.StatusCode, e.Code, e.Message)
}

// Temporary reports whether the request may succeed later (429 and 5xx).
func (e *RequestError) Temporary() bool {
	return e.StatusCode == 429 || e.StatusCode >= 500
}

// IsTemporary reports whether err is a failure that a later attempt may cure
// and that Expo did not take the messages in: a temporary *RequestError
// (429, 5xx), a network or rate-limiter failure, or a context that ended
// before the request was sent. Callers keep such messages queued. A context
// that ended while a request was in flight is not temporary: Expo may have
// the messages, so resending them could notify twice.
//
// Network failures count as temporary because Expo's guidance is to retry
// them; a connection lost after Expo accepted a request is the one case
// where that retry duplicates (Expo itself delivers at least once).
func IsTemporary(err error) bool {
	var re *RequestError
	if errors.As(err, &re) {
		return re.Temporary()
	}
	var (
		ne *networkError
		le *limiterError
		ns *notSentError
	)
	return errors.As(err, &ne) || errors.As(err, &le) || errors.As(err, &ns)
}

// networkError marks a transport failure (no HTTP answer).
type networkError struct{ err error }

func (e *networkError) Error() string { return "expo: network: " + e.err.Error() }
func (e *networkError) Unwrap() error { return e.err }

// limiterError marks a failure of the shared rate limiter (Redis).
type limiterError struct{ err error }

func (e *limiterError) Error() string { return "expo: rate limiter: " + e.err.Error() }
func (e *limiterError) Unwrap() error { return e.err }

// notSentError marks a request abandoned before it was sent (its context
// ended while waiting for a concurrency slot or the rate limiter).
type notSentError struct{ err error }

func (e *notSentError) Error() string { return "expo: not sent: " + e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }
