package inbox

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Cleanup deletes inbox rows received more than olderThan ago that were
// applied and whose notice, if any, was already published (retention). Rows
// not applied yet (or stuck, waiting for an operator) and rows still waiting
// in the outbox stay.
// It returns the number of rows deleted.
func Cleanup(ctx context.Context, pool *pgxpool.Pool, olderThan time.Duration) (int64, error) {
	tag, err := pool.Exec(ctx, `
		DELETE FROM inbox i
		WHERE i.received_at < now() - $1::interval AND i.applied_at IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM outbox o
		                  WHERE o.message_id = 'inbox:' || i.id AND o.published_at IS NULL)`,
		olderThan)
	if err != nil {
		return 0, fmt.Errorf("clean up inbox: %w", err)
	}
	return tag.RowsAffected(), nil
}
