package celerycompat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"fundigo/pkg/celery"
	"fundigo/pkg/store"
)

// retryError asks for the task to run again after Countdown, like Python's
// self.retry(exc=…, countdown=…).
type retryError struct {
	err       error
	countdown time.Duration
}

func (e *retryError) Error() string { return "retry: " + e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// Retry makes a handler's failure retried after countdown (0: the
// configured backoff). Once the message's retries reach the maximum, the task
// fails with err (its Python class when err is a *celery.Exception).
func Retry(err error, countdown time.Duration) error {
	if err == nil {
		err = errors.New("retry requested")
	}
	return &retryError{err: err, countdown: countdown}
}

// outcome is what a handler's return value means, decided in one place.
type outcome struct {
	exc       *celery.Exception // the exception to store (failure or retry)
	retry     bool              // run again if retries remain
	countdown time.Duration     // 0: backoff
}

// classify turns a handler error into an outcome. hard is the task's hard
// time limit, reported when the handler ran out of time.
func classify(err error, ctxErr error, hard time.Duration) outcome {
	var exc *celery.Exception
	var r *retryError
	switch {
	case errors.As(err, &r):
		o := outcome{retry: true, countdown: r.countdown, exc: celery.RuntimeError(r.err.Error())}
		if errors.As(r.err, &exc) {
			o.exc = exc
		}
		return o
	case errors.As(err, &exc):
		return outcome{exc: exc}
	case errors.As(err, new(*panicError)):
		return outcome{exc: celery.RuntimeError("the task handler panicked")}
	case errors.Is(ctxErr, context.DeadlineExceeded):
		return outcome{exc: celery.TimeLimitExceeded(hard.Seconds())}
	case store.IsDeterministic(err):
		// The same input fails the same way: retrying only delays the failure.
		return outcome{exc: dbException(err)}
	case isDecodeError(err):
		return outcome{exc: celery.ValueError(err.Error())}
	default:
		return outcome{retry: true, exc: celery.RuntimeError(err.Error())}
	}
}

// dbException names a deterministic database error as Django would raise
// it: DataError for SQLSTATE class 22 (bad value), IntegrityError for class
// 23 (constraint), DatabaseError otherwise.
func dbException(err error) *celery.Exception {
	typ := "DatabaseError"
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "22":
			typ = "DataError"
		case "23":
			typ = "IntegrityError"
		}
	}
	return celery.NewException("django.db.utils", typ, err.Error())
}

// isDecodeError reports a JSON decode failure of the task's input: the same
// bytes never decode on a retry.
func isDecodeError(err error) bool {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.As(err, &syn) || errors.As(err, &typ)
}

// panicError is a handler panic: a programmer error, failed without retry.
type panicError struct{ value any }

func (p *panicError) Error() string { return fmt.Sprintf("task handler panicked: %v", p.value) }
