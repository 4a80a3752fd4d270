package payment

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ClaimCallback records that inbox row inboxID is being applied. It returns
// false if it was applied before (a redelivery): the caller does nothing.
// Call it first in the applying transaction, so a rollback un-claims it.
func (s *Store) ClaimCallback(ctx context.Context, inboxID int64, checkoutRequestID, resultCode string) (bool, error) {
	tag, err := s.db.Exec(ctx, `
		INSERT INTO payment_callbacks (inbox_id, checkout_request_id, result_code, outcome)
		VALUES ($1, $2, $3, 'claimed') ON CONFLICT (inbox_id) DO NOTHING`,
		inboxID, checkoutRequestID, resultCode)
	if err != nil {
		return false, fmt.Errorf("claim callback %d: %w", inboxID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// SetCallbackOutcome records what applying inbox row inboxID did.
func (s *Store) SetCallbackOutcome(ctx context.Context, inboxID int64, paymentID, outcome string) error {
	if _, err := s.db.Exec(ctx, `UPDATE payment_callbacks SET payment_id = nullif($2, '')::uuid, outcome = $3
		WHERE inbox_id = $1`, inboxID, paymentID, outcome); err != nil {
		return fmt.Errorf("set outcome of callback %d: %w", inboxID, err)
	}
	return nil
}

// Orphan is a callback whose CheckoutRequestID matched no payment.
type Orphan struct {
	InboxID           int64
	CheckoutRequestID string
	Body              []byte
	ReceivedAt        time.Time
	// Trusted: its inbox row came from a trusted source (read only).
	Trusted bool
}

// InsertOrphan keeps a callback for a CheckoutRequestID we do not know (yet).
func (s *Store) InsertOrphan(ctx context.Context, o Orphan) error {
	if _, err := s.db.Exec(ctx, `INSERT INTO payment_orphans (inbox_id, checkout_request_id, body, received_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (inbox_id) DO NOTHING`,
		o.InboxID, o.CheckoutRequestID, o.Body, o.ReceivedAt); err != nil {
		return fmt.Errorf("insert orphan callback %d: %w", o.InboxID, err)
	}
	return nil
}

// OpenOrphans returns the unmatched orphans of checkoutRequestID, oldest first.
func (s *Store) OpenOrphans(ctx context.Context, checkoutRequestID string) ([]Orphan, error) {
	return s.orphans(ctx, openOrphansWhere, []string{checkoutRequestID})
}

// openOrphansWhere selects the unmatched orphans of the CheckoutRequestIDs
// in $1, oldest first.
const openOrphansWhere = `WHERE o.checkout_request_id = ANY($1::text[]) AND o.matched_at IS NULL ORDER BY o.inbox_id`

// orphanColumns are the columns of Orphan, from payment_orphans o; Trusted
// comes from its inbox row.
const orphanColumns = `o.inbox_id, o.checkout_request_id, o.body, o.received_at,
	coalesce((SELECT i.source_trusted FROM inbox i WHERE i.id = o.inbox_id), false)`

// UnreportedOrphans returns orphans still unmatched since before olderThan
// and not reported yet.
func (s *Store) UnreportedOrphans(ctx context.Context, olderThan time.Time, limit int) ([]Orphan, error) {
	return s.orphans(ctx, `WHERE matched_at IS NULL AND reported_at IS NULL AND received_at < $1
		ORDER BY inbox_id LIMIT $2`, olderThan, limit)
}

func (s *Store) orphans(ctx context.Context, where string, args ...any) ([]Orphan, error) {
	return collectOrphans(s.db.Query(ctx, `SELECT `+orphanColumns+` FROM payment_orphans o `+where, args...))
}

func collectOrphans(rows pgx.Rows, err error) ([]Orphan, error) {
	if err != nil {
		return nil, fmt.Errorf("list orphan callbacks: %w", err)
	}
	defer rows.Close()
	var out []Orphan
	for rows.Next() {
		var o Orphan
		if err := rows.Scan(&o.InboxID, &o.CheckoutRequestID, &o.Body, &o.ReceivedAt, &o.Trusted); err != nil {
			return nil, fmt.Errorf("scan orphan callback: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list orphan callbacks: %w", err)
	}
	return out, nil
}

// MatchOrphan marks orphan inboxID as belonging to paymentID.
func (s *Store) MatchOrphan(ctx context.Context, inboxID int64, paymentID string, at time.Time) error {
	if _, err := s.db.Exec(ctx, `UPDATE payment_orphans SET matched_payment_id = $2::uuid, matched_at = $3
		WHERE inbox_id = $1 AND matched_at IS NULL`, inboxID, paymentID, at); err != nil {
		return fmt.Errorf("match orphan callback %d: %w", inboxID, err)
	}
	return nil
}

// MarkOrphansReported records that orphans were reported to operators.
func (s *Store) MarkOrphansReported(ctx context.Context, inboxIDs []int64, at time.Time) error {
	if _, err := s.db.Exec(ctx, `UPDATE payment_orphans SET reported_at = $2 WHERE inbox_id = ANY($1)`, inboxIDs, at); err != nil {
		return fmt.Errorf("mark orphans reported: %w", err)
	}
	return nil
}

// UnappliedCallbacks returns inbox rows of route received before
// receivedBefore that no payment_callbacks row claims and that are due:
// stored callbacks the applier has not reached. Stuck rows (an operator's)
// and rows waiting for their next attempt or for Daraja's confirmation are
// not listed, so they can never hide the rows after them.
func (s *Store) UnappliedCallbacks(ctx context.Context, route string, receivedBefore time.Time, limit int) ([]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT i.id FROM inbox i
		WHERE i.route = $1 AND i.received_at < $2 AND i.applied_at IS NULL AND i.stuck_at IS NULL
		  AND (i.next_attempt_at IS NULL OR i.next_attempt_at <= now())
		  AND NOT EXISTS (SELECT 1 FROM payment_callbacks c WHERE c.inbox_id = i.id)
		ORDER BY i.id LIMIT $3`, route, receivedBefore, limit)
	if err != nil {
		return nil, fmt.Errorf("list unapplied callbacks: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list unapplied callbacks: %w", err)
	}
	return ids, nil
}
