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
	Code    string // details.error, e.g. DeviceNotRegistered; may be empty
	Message string // Expo's human-readable message
}

func (e *MessageError) Error() string {
	if e.Code == "" {
		return "expo: " + e.Message
	}
	return fmt.Sprintf("expo: %s: %s", e.Code, e.Message)
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

// IsTemporary reports whether err is a failure that later attempts may cure:
// a temporary *RequestError, a rate-limiter or network failure. Callers use
// it to decide whether unsent messages stay queued.
func IsTemporary(err error) bool {
	var re *RequestError
	if errors.As(err, &re) {
		return re.Temporary()
	}
	var ne *networkError
	if errors.As(err, &ne) {
		return true
	}
	var le *limiterError
	return errors.As(err, &le)
}

// networkError marks a transport failure (no HTTP answer).
type networkError struct{ err error }

func (e *networkError) Error() string { return "expo: network: " + e.err.Error() }
func (e *networkError) Unwrap() error { return e.err }

// limiterError marks a failure of the shared rate limiter (Redis).
type limiterError struct{ err error }

func (e *limiterError) Error() string { return "expo: rate limiter: " + e.err.Error() }
func (e *limiterError) Unwrap() error { return e.err }
