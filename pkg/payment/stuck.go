package payment

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"fundigo/pkg/mpesa"
)

// Stuck is a stored STK callback the applier gave up on: an operator reads
// last_error, fixes the cause and retries it (`fundigo payments stuck`).
type Stuck struct {
	InboxID           int64
	CheckoutRequestID string
	Attempts          int
	LastError         string
	ReceivedAt        time.Time
	StuckAt           time.Time
}

// ListStuck returns up to limit stuck callbacks, oldest first.
func ListStuck(ctx context.Context, pool *pgxpool.Pool, limit int) ([]Stuck, error) {
	rows, err := pool.Query(ctx, `SELECT id, natural_key, attempts, coalesce(last_error, ''), received_at, stuck_at
		FROM inbox WHERE route = $1 AND stuck_at IS NOT NULL AND applied_at IS NULL ORDER BY id LIMIT $2`,
		mpesa.InboxRouteSTK, limit)
	if err != nil {
		return nil, fmt.Errorf("list stuck stk callbacks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Stuck, error) {
		var s Stuck
		err := r.Scan(&s.InboxID, &s.CheckoutRequestID, &s.Attempts, &s.LastError, &s.ReceivedAt, &s.StuckAt)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("list stuck stk callbacks: %w", err)
	}
	return out, nil
}

// RetryStuck makes stuck callbacks claimable again (attempts reset; the
// last error is kept until the next attempt) and returns how many.
func RetryStuck(ctx context.Context, pool *pgxpool.Pool, inboxIDs []int64) (int, error) {
	tag, err := pool.Exec(ctx, `UPDATE inbox SET stuck_at = NULL, attempts = 0, next_attempt_at = NULL
		WHERE id = ANY($1::bigint[]) AND route = $2 AND stuck_at IS NOT NULL AND applied_at IS NULL`, inboxIDs, mpesa.InboxRouteSTK)
	if err != nil {
		return 0, fmt.Errorf("retry stuck stk callbacks: %w", err)
	}
	if _, err := pool.Exec(ctx, `SELECT pg_notify($1, '')`, NotifyChannel); err != nil {
		return int(tag.RowsAffected()), fmt.Errorf("wake appliers: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
