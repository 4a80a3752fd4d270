package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// cleanupBatch bounds one DELETE so retention never holds long locks.
const cleanupBatch = 5000

// Cleanup deletes rows published more than olderThan ago (retention; the
// scheduler runs it) and returns how many it deleted. Pending rows are never
// deleted, however old. Safe to run concurrently with relays and with itself.
func Cleanup(ctx context.Context, pool *pgxpool.Pool, olderThan time.Duration) (int64, error) {
	var total int64
	for {
		tag, err := pool.Exec(ctx, `
			DELETE FROM outbox WHERE id IN (
				SELECT id FROM outbox
				WHERE published_at < now() - make_interval(secs => $1)
				LIMIT $2
				FOR UPDATE SKIP LOCKED)`,
			olderThan.Seconds(), cleanupBatch)
		if err != nil {
			return total, fmt.Errorf("clean up outbox: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < cleanupBatch {
			return total, nil
		}
	}
}
