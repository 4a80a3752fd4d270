package payment

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// CleanupOrphans applies the payment_orphans retention: orphans received
// more than olderThan ago go, then the oldest beyond maxRows, whatever their
// age (matched ones before unmatched ones), so a flood of callbacks for
// unknown checkout ids cannot grow the table without bound (their raw bodies stay in the inbox for its own
// retention). Deletes run in batches of batch rows.
func CleanupOrphans(ctx context.Context, pool *pgxpool.Pool, olderThan time.Duration, maxRows, batch int) (int64, error) {
	var total int64
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM payment_orphans WHERE inbox_id IN (
			SELECT inbox_id FROM payment_orphans WHERE received_at < now() - $1::interval
			LIMIT $2 FOR UPDATE SKIP LOCKED)`, []any{olderThan, batch}},
		{`DELETE FROM payment_orphans WHERE inbox_id IN (
			SELECT inbox_id FROM payment_orphans
			ORDER BY matched_at IS NULL DESC, received_at DESC, inbox_id DESC
			OFFSET $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, []any{maxRows, batch}},
	} {
		for {
			tag, err := pool.Exec(ctx, q.sql, q.args...)
			if err != nil {
				return total, fmt.Errorf("delete orphan callbacks: %w", err)
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < int64(batch) {
				break
			}
		}
	}
	return total, nil
}
