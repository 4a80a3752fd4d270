package amqpx

import (
	"errors"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrClosed is returned once the Conn or Publisher has been closed.
	ErrClosed = errors.New("amqpx: closed")
	// ErrNotConnected is returned by Ping while the Conn is reconnecting.
	ErrNotConnected = errors.New("amqpx: not connected")
	// ErrNacked means the broker refused the message (basic.nack); it was not
	// enqueued. Retrying is safe.
	ErrNacked = errors.New("amqpx: message nacked by broker")
	// ErrUnconfirmed means the channel or connection closed after the message
	// was sent but before its confirm arrived. It may or may not have been
	// enqueued: retry, and rely on consumers deduplicating by MessageId.
	ErrUnconfirmed = errors.New("amqpx: channel closed before publisher confirm")
	// ErrUnroutable means a mandatory message matched no queue (basic.return).
	ErrUnroutable = errors.New("amqpx: message unroutable")
)

// permanentError marks a handler error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return "permanent: " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so the Consumer rejects the delivery without requeue and
// the queue dead-letters it into its DLQ at once (bad input, unknown version).
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or any error it wraps, came from Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
