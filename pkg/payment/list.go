package payment

import (
	"context"
	"fmt"

	"fundigo/pkg/cursor"
	"fundigo/pkg/validation"
)

// Filter selects payments for List; empty fields select everything.
type Filter struct {
	JobID      string
	CustomerID string
	Status     Status
}

// Validate checks the filter's bounds (the same as CreateRequest's) and
// that Status is one of the statuses.
func (f Filter) Validate() error {
	var fe []FieldError
	if len(f.JobID) > MaxIDLen {
		fe = append(fe, FieldError{Field: "job_id", Message: "at most 128 characters"})
	}
	if len(f.CustomerID) > MaxIDLen {
		fe = append(fe, FieldError{Field: "customer_id", Message: "at most 128 characters"})
	}
	switch f.Status {
	case "", Pending, AwaitingCallback, AwaitingPayment, Paid, Failed, NeedsReview:
	default:
		fe = append(fe, FieldError{Field: "status", Message: "must be one of pending, awaiting_callback, awaiting_payment, paid, failed, needs_review"})
	}
	if len(fe) > 0 {
		return &validation.Error{Subject: "payment filter", Fields: fe}
	}
	return nil
}

// List answers one page of the payments f selects, newest first (created_at
// then id, descending): a page is found from the position of a row, so
// payments created while a client pages through never shift it.
func (s *Store) List(ctx context.Context, f Filter, q cursor.Query) (cursor.Page[Payment], error) {
	cond, order, args := q.TimeKeyset("created_at", "id", 5)
	ps, err := collectPayments(s.db.Query(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE ($1 = '' OR job_id = $1) AND ($2 = '' OR customer_id = $2) AND ($3 = '' OR status = $3)
		AND `+cond+order+` LIMIT $4`, append([]any{f.JobID, f.CustomerID, string(f.Status), q.Limit()}, args...)...))
	if err != nil {
		return cursor.Page[Payment]{}, fmt.Errorf("list payments: %w", err)
	}
	return cursor.Cut(q, ps, func(p Payment) cursor.Position { return cursor.Position{Time: p.CreatedAt, ID: p.ID} }), nil
}
