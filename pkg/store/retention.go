package store

import (
	"context"
	"fmt"
	"time"
)

// DeleteInBatches runs a DELETE taking ($1 interval, $2 limit) until a batch
// comes back short, so no statement holds locks on millions of rows. It
// returns how many rows went.
func DeleteInBatches(ctx context.Context, db DB, sql string, olderThan time.Duration, batch int) (int64, error) {
	var total int64
	for {
		tag, err := db.Exec(ctx, sql, olderThan, batch)
		if err != nil {
			return total, fmt.Errorf("delete batch: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			return total, nil
		}
	}
}

// TableExists reports whether table is visible in the search_path.
func TableExists(ctx context.Context, db DB, table string) (bool, error) {
	var exists bool
	if err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil {
		return false, fmt.Errorf("look up table %s: %w", table, err)
	}
	return exists, nil
}
