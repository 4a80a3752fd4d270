package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RecordTaskOwner records who accepted task id (principal) and, optionally,
// the user it acts for (nil: none). A second record for the same id (a
// retry) keeps the first.
func RecordTaskOwner(ctx context.Context, db DB, id, principal string, userID *string) error {
	if _, err := db.Exec(ctx, `INSERT INTO task_owners (task_id, principal, user_id) VALUES ($1, $2, $3)
		ON CONFLICT (task_id) DO NOTHING`, id, principal, userID); err != nil {
		return fmt.Errorf("record task owner: %w", err)
	}
	return nil
}

// TaskOwnedBy reports whether task id was recorded for principal or for
// userID.
func TaskOwnedBy(ctx context.Context, db DB, id, principal, userID string) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM task_owners
		WHERE task_id = $1 AND (principal = $2 OR user_id = $3))`, id, principal, userID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("task owner: %w", err)
	}
	return ok, nil
}

// CleanupTaskOwners deletes ownership records older than olderThan.
func CleanupTaskOwners(ctx context.Context, db DB, olderThan time.Duration, batch int) (int64, error) {
	return DeleteInBatches(ctx, db, `DELETE FROM task_owners WHERE task_id IN (
		SELECT task_id FROM task_owners
		WHERE created_at < now() - $1::interval
		LIMIT $2 FOR UPDATE SKIP LOCKED)`, olderThan, batch)
}

// Command is one row of the commands table: an accepted long-running
// command's kind, state, progress, result and error.
type Command struct {
	Kind, State      string
	Progress, Result []byte
	Error            *string
}

// GetCommand reads command id; ErrNotFound when there is none.
func GetCommand(ctx context.Context, db DB, id string) (Command, error) {
	var c Command
	err := db.QueryRow(ctx, `SELECT kind, state, progress, result, error FROM commands WHERE id=$1`, id).
		Scan(&c.Kind, &c.State, &c.Progress, &c.Result, &c.Error)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("read command %s: %w", id, err)
	}
	return c, nil
}
