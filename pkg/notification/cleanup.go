package notification

import (
	"context"
	"time"

	"fundigo/pkg/store"
)

// CleanupSettledDeliveries deletes delivery rows whose ticket and receipt
// are done with (delivered, failed, invalid, muted) and older than
// olderThan, in batches.
func CleanupSettledDeliveries(ctx context.Context, db store.DB, olderThan time.Duration, batch int) (int64, error) {
	return store.DeleteInBatches(ctx, db, `DELETE FROM notification_deliveries WHERE id IN (
		SELECT id FROM notification_deliveries
		WHERE status IN ('delivered', 'failed', 'invalid', 'muted')
		  AND coalesce(receipt_checked_at, sent_at, claimed_at, not_before) < now() - $1::interval
		LIMIT $2 FOR UPDATE SKIP LOCKED)`, olderThan, batch)
}
