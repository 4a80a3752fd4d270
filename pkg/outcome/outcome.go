// Package outcome is the one place that decides what a failed task or
// event handler means (docs/ARCHITECTURE.md, "One handler shape"), for the Asynq and the RabbitMQ side
// alike:
//
//   - [AlreadyDone]: nil, or an error that says the work was already done (a
//     duplicate, a stale state transition: errors.Is(err, [ErrAlreadyDone]));
//     the task or message is acknowledged;
//   - [PermanentFailure] (errors marked with [Permanent]): retrying cannot help (bad input, a deterministic database
//     error, a payload that does not decode); Asynq archives the task, the
//     AMQP consumer dead-letters the message at once;
//   - [Retry]: anything else (a dependency is down, a timeout); Asynq retries
//     with backoff, the AMQP consumer redelivers after a delay without
//     holding a handler slot.
//
// Handlers mark what they know with [Permanent] or by wrapping
// [ErrAlreadyDone]; [Classify] also recognises the errors that are
// deterministic whatever the handler thought: PostgreSQL SQLSTATE classes 22
// (data exception: bad text encoding, value too long, NUL byte), 23
// (integrity constraint violation) and 54 (program limit exceeded), JSON
// decode errors, and a *validation.Error (input a domain refused), so an
// adapter never has to mark a domain's validation failure itself.
package outcome

import (
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"fundigo/pkg/validation"
)

// Class is what to do with a handler's result.
type Class int

// The three classes; the zero value is AlreadyDone (nil: nothing to redo).
const (
	AlreadyDone Class = iota
	Retry
	PermanentFailure
)

// String is the class as a metrics label: "done", "retry" or "permanent".
func (c Class) String() string {
	switch c {
	case AlreadyDone:
		return "done"
	case Retry:
		return "retry"
	case PermanentFailure:
		return "permanent"
	}
	return "unknown"
}

// ErrAlreadyDone means the work a handler was asked to do had already been
// done (a duplicate delivery, a conditional update that found the row past
// the expected state). Handlers wrap it (store.ErrStaleTransition does);
// Classify maps it to AlreadyDone, so the task or message is acknowledged.
var ErrAlreadyDone = errors.New("already done")

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return "permanent: " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as final: the task is archived without retry, the
// message is dead-lettered without redelivery. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	if IsPermanent(err) {
		return err
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or any error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Classify maps a handler's result to its class. Already-done wins over
// permanent (a stale transition inside a permanent error is still done), and
// permanent wins over retry.
func Classify(err error) Class {
	switch {
	case err == nil, errors.Is(err, ErrAlreadyDone):
		return AlreadyDone
	case IsPermanent(err), Deterministic(err):
		return PermanentFailure
	default:
		return Retry
	}
}

// Deterministic reports whether err will recur on every attempt whatever the
// state of the dependencies: a deterministic database error
// (DeterministicSQL), a JSON decode error or a *validation.Error.
func Deterministic(err error) bool {
	if DeterministicSQL(err) {
		return true
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var inv *json.InvalidUnmarshalError
	var invalid *validation.Error
	return errors.As(err, &syntax) || errors.As(err, &typ) || errors.As(err, &inv) || errors.As(err, &invalid)
}

// DeterministicSQL reports whether err is a PostgreSQL error that the same
// statement with the same input would raise again: SQLSTATE class 22 (data
// exception: NUL in text 22021, value too long 22001, invalid text
// representation 22P02…), class 23 (integrity constraint violation: unique,
// check, foreign key, not null) and class 54 (program limit exceeded: an
// index row over the btree limit, 54000). Connection failures, timeouts,
// serialization failures and server shutdowns are not deterministic; neither
// is a missing table (class 42), which a migration in progress can fix.
func DeterministicSQL(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || len(pgErr.Code) != 5 {
		return false
	}
	switch pgErr.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}
