package payment

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"fundigo/pkg/inbox"
	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/tracing"
)

// Intake accepts STK callbacks for every entry point that receives one (the
// Daraja webhook, the Celery process_payment_callback task): it parses the
// body, quarantines what is not a callback, and stores the rest in the inbox,
// where the applier finds it. Safe for concurrent use.
type Intake struct {
	Pool   *pgxpool.Pool
	Writer *inbox.Writer
	// QuarantineCap bounds the kept unparseable bodies.
	QuarantineCap int
}

// Delivery is one callback as received.
type Delivery struct {
	Body        []byte
	ContentType string
	// Origin says where it came from, for the quarantine reason ("webhook",
	// "celery <task id>").
	Origin string
	// Trusted is true when the sender is a known Daraja address (the
	// webhook's source is in FUNDIGO_MPESA_ALLOWED_CIDRS). A success from an
	// untrusted sender is confirmed with Daraja before it counts.
	Trusted bool
}

// Accepted is a stored callback.
type Accepted struct {
	InboxID           int64
	CheckoutRequestID string
	ResultCode        string
	Duplicate         bool // an identical body was already stored
}

// RejectedError is returned by Accept for a delivery that can never be
// stored: not an STK callback (it unwraps to mpesa.ErrInvalidCallback), or a
// value the inbox refuses (it unwraps to inbox.ErrRejected). The body was
// quarantined unless QuarantineErr says why not.
type RejectedError struct {
	Err           error
	QuarantineErr error
}

func (e *RejectedError) Error() string { return e.Err.Error() }
func (e *RejectedError) Unwrap() error { return e.Err }

// Detail is what the sender may be told (no body content).
func (e *RejectedError) Detail() string {
	if errors.Is(e.Err, inbox.ErrRejected) {
		return "the callback has a value that cannot be stored"
	}
	return "not a valid STK callback: " + strings.TrimPrefix(e.Err.Error(), mpesa.ErrInvalidCallback.Error()+": ")
}

// Accept stores d durably and returns once it is committed; only then may
// the sender be told it was received. Errors: *RejectedError (answer "bad
// request", never retry) or a storage error (nothing stored: answer
// "unavailable", the sender may retry).
func (in *Intake) Accept(ctx context.Context, d Delivery) (Accepted, error) {
	cb, err := mpesa.ParseCallback(d.Body)
	if err != nil {
		return Accepted{}, in.reject(ctx, d, err)
	}
	res, err := in.Writer.Write(ctx, inbox.Entry{
		Route: mpesa.InboxRouteSTK, Key: cb.CheckoutRequestID, Body: d.Body,
		Notify: NotifyChannel, Trusted: d.Trusted, Trace: tracing.Headers(ctx),
	})
	if errors.Is(err, inbox.ErrRejected) {
		return Accepted{}, in.reject(ctx, d, err)
	}
	if err != nil {
		return Accepted{}, fmt.Errorf("store stk callback %s: %w", logging.TruncateID(cb.CheckoutRequestID), err)
	}
	return Accepted{InboxID: res.ID, CheckoutRequestID: cb.CheckoutRequestID, ResultCode: cb.ResultCode,
		Duplicate: res.Duplicate}, nil
}

// reject quarantines a refused body (reason: why, never its content).
func (in *Intake) reject(ctx context.Context, d Delivery, why error) error {
	reason := "invalid stk callback (" + d.Origin + "): " + why.Error()
	if len(reason) > 200 {
		reason = reason[:200]
	}
	qerr := inbox.Quarantine(ctx, in.Pool, in.QuarantineCap, mpesa.InboxRouteSTK, strings.ToValidUTF8(reason, "?"),
		d.ContentType, d.Body)
	return &RejectedError{Err: why, QuarantineErr: qerr}
}
