package inbox

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Intake stores the deliveries of one webhook route: it parses each body
// for its natural key (KeyFunc), quarantines what does not parse, and
// writes the rest with grouped commits, announced by an outbox message with
// RoutingKey. Safe for concurrent use. (The STK webhook has its own,
// payment.Intake, because its applier claims rows without a notice.)
type Intake struct {
	Pool   *pgxpool.Pool
	Writer *Writer
	// QuarantineCap bounds the kept unparseable bodies.
	QuarantineCap int
	Route         string
	RoutingKey    string
	// KeyFunc returns the natural key of a body, or an error if the body
	// is not a delivery of this route (it is then quarantined).
	KeyFunc func(body []byte) (string, error)
}

// Stored is one accepted delivery.
type Stored struct {
	Result
	Key string
}

// IntakeRejectedError is returned by Accept for a delivery that can never
// be stored (the body does not parse, or the database refuses its row). The
// body was quarantined unless QuarantineErr says why not.
type IntakeRejectedError struct {
	Route         string
	Err           error
	QuarantineErr error
}

func (e *IntakeRejectedError) Error() string { return e.Err.Error() }
func (e *IntakeRejectedError) Unwrap() error { return e.Err }

// Detail is what the sender may be told (never body content).
func (e *IntakeRejectedError) Detail() string {
	if errors.Is(e.Err, ErrRejected) {
		return "the body has a value that cannot be stored"
	}
	return "not a valid " + e.Route + " body: " + e.Err.Error()
}

// Accept stores body durably and returns once it is committed; only then
// may the sender be told it was received. Errors: *IntakeRejectedError
// (answer 400, never retry) or a storage error (answer 503).
func (in *Intake) Accept(ctx context.Context, body []byte, contentType string, trusted bool) (Stored, error) {
	key, err := in.KeyFunc(body)
	if err != nil {
		return Stored{}, in.reject(ctx, contentType, body, err)
	}
	res, err := in.Writer.Write(ctx, Entry{Route: in.Route, Key: key, Body: body, RoutingKey: in.RoutingKey, Trusted: trusted})
	if errors.Is(err, ErrRejected) {
		return Stored{}, in.reject(ctx, contentType, body, err)
	}
	if err != nil {
		return Stored{}, fmt.Errorf("store %s delivery: %w", in.Route, err)
	}
	return Stored{Result: res, Key: key}, nil
}

func (in *Intake) reject(ctx context.Context, contentType string, body []byte, why error) error {
	reason := "invalid " + in.Route + " body: " + why.Error()
	if len(reason) > 200 {
		reason = reason[:200]
	}
	qerr := Quarantine(ctx, in.Pool, in.QuarantineCap, in.Route, strings.ToValidUTF8(reason, "?"), contentType, body)
	return &IntakeRejectedError{Route: in.Route, Err: why, QuarantineErr: qerr}
}
