package payment

import (
	"context"
	"fmt"
	"time"
)

// ExpireOverdue fails as expired, in one statement, up to limit payments
// past their deadline: pending ones created before pendingBefore (their
// push was never recorded) and awaiting_callback ones pushed before
// pushedBefore (no answer by the final deadline). Rows another transaction
// holds (a callback being applied) are skipped for the next pass. It returns
// the expired payments so their payment.failed events go in the same
// transaction.
func (s *Store) ExpireOverdue(ctx context.Context, pendingBefore, pushedBefore, at time.Time, limit int) ([]Payment, error) {
	ps, err := collectPayments(s.db.Query(ctx, `
		UPDATE payments p SET status = 'failed', failure_reason = 'expired', updated_at = $3,
			result_desc = CASE p.status WHEN 'pending' THEN 'not pushed by the pending deadline'
				ELSE 'no answer by the final deadline' END
		WHERE p.id IN (
			SELECT id FROM payments
			WHERE (status = 'pending' AND created_at < $1)
			   OR (status = 'awaiting_callback' AND pushed_at < $2)
			ORDER BY created_at LIMIT $4 FOR UPDATE SKIP LOCKED)
		  AND p.status IN ('pending', 'awaiting_callback')
		RETURNING `+paymentColumns, pendingBefore, pushedBefore, at, limit))
	if err != nil {
		return nil, fmt.Errorf("expire overdue payments: %w", err)
	}
	return ps, nil
}

// OverdueAwaiting returns up to limit payments awaiting a callback since
// before pushedBefore and not queried since queriedBefore, in (pushed_at,
// id) order after the cursor (afterPushed, afterID), so one run pages
// through a backlog and always makes progress, even past rows that fail.
func (s *Store) OverdueAwaiting(ctx context.Context, pushedBefore, queriedBefore time.Time,
	afterPushed time.Time, afterID string, limit int) ([]Payment, error) {
	ps, err := collectPayments(s.db.Query(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE status = 'awaiting_callback' AND pushed_at < $1
		  AND (last_queried_at IS NULL OR last_queried_at < $2)
		  AND (pushed_at, id::text) > ($3, $4)
		ORDER BY pushed_at, id::text LIMIT $5`, pushedBefore, queriedBefore, afterPushed, afterID, limit))
	if err != nil {
		return nil, fmt.Errorf("list overdue awaiting payments: %w", err)
	}
	return ps, nil
}

// StalePendingAfter is StalePending paged by (created_at, id) after a cursor.
func (s *Store) StalePendingAfter(ctx context.Context, createdBefore, afterCreated time.Time, afterID string, limit int) ([]Payment, error) {
	ps, err := collectPayments(s.db.Query(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE status = 'pending' AND created_at < $1 AND (created_at, id::text) > ($2, $3)
		ORDER BY created_at, id::text LIMIT $4`, createdBefore, afterCreated, afterID, limit))
	if err != nil {
		return nil, fmt.Errorf("list stale pending payments: %w", err)
	}
	return ps, nil
}
