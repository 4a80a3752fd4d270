package amqpx

import (
	"errors"

	"fundigo/pkg/outcome"
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

// Permanent is outcome.Permanent, the one permanent-failure marker of both
// transports: the Consumer rejects the delivery without requeue and the queue
// dead-letters it into its DLQ at once. Permanent(nil) is nil.
func Permanent(err error) error { return outcome.Permanent(err) }

// IsPermanent is outcome.IsPermanent.
func IsPermanent(err error) bool { return outcome.IsPermanent(err) }
