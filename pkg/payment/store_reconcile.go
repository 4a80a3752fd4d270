package payment

import (
	"context"
	"fmt"
	"time"
)

// StalePending returns pending payments created before createdBefore: their
// STK task may have been lost and is driven again.
func (s *Store) StalePending(ctx context.Context, createdBefore time.Time, limit int) ([]Payment, error) {
	ps, err := collectPayments(s.db.Query(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE status = 'pending' AND created_at < $1 ORDER BY created_at LIMIT $2`, createdBefore, limit))
	if err != nil {
		return nil, fmt.Errorf("list stale pending payments: %w", err)
	}
	return ps, nil
}

// StaleAwaiting returns payments awaiting a callback since before
// pushedBefore and not queried since queriedBefore, oldest first.
func (s *Store) StaleAwaiting(ctx context.Context, pushedBefore, queriedBefore time.Time, limit int) ([]Payment, error) {
	ps, err := collectPayments(s.db.Query(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE status = 'awaiting_callback' AND pushed_at < $1
		  AND (last_queried_at IS NULL OR last_queried_at < $2)
		ORDER BY pushed_at LIMIT $3`, pushedBefore, queriedBefore, limit))
	if err != nil {
		return nil, fmt.Errorf("list stale awaiting payments: %w", err)
	}
	return ps, nil
}

// TouchQueried records that Daraja was asked about payment id at.
func (s *Store) TouchQueried(ctx context.Context, id string, at time.Time) error {
	uid, err := ParseID(id)
	if err != nil {
		return err
	}
	if _, err := s.db.Exec(ctx, `UPDATE payments SET last_queried_at = $2 WHERE id = $1`, uid, at); err != nil {
		return fmt.Errorf("touch payment %s queried: %w", id, err)
	}
	return nil
}

// AmbiguousCandidates returns payments whose push outcome is unknown (no
// CheckoutRequestID) for phone and amount, pushed since since, locked.
func (s *Store) AmbiguousCandidates(ctx context.Context, phone string, amount int64, since time.Time) ([]Payment, error) {
	ps, err := collectPayments(s.db.Query(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE push_ambiguous AND checkout_request_id IS NULL AND phone = $1 AND amount = $2
		  AND pushed_at >= $3 AND status IN ('awaiting_callback', 'failed')
		ORDER BY pushed_at FOR UPDATE`, phone, amount, since))
	if err != nil {
		return nil, fmt.Errorf("list ambiguous payments: %w", err)
	}
	return ps, nil
}
