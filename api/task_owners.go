package api

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// execer is a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// recordTaskOwner records who accepted task id (p) and, optionally, the user
// it acts for (a payment's customer: the Django app creates payments with a
// service key on behalf of customers whose user id is the customer id). Call
// it before the task is enqueued. A second record for the same id (a retry)
// keeps the first.
func recordTaskOwner(ctx context.Context, db execer, id string, p Principal, forUser string) error {
	var user *string
	if p.Kind == "user" {
		user = &p.UserID
	} else if forUser != "" {
		user = &forUser
	}
	if _, err := db.Exec(ctx, `INSERT INTO task_owners (task_id, principal, user_id) VALUES ($1, $2, $3)
		ON CONFLICT (task_id) DO NOTHING`, id, p.Name, user); err != nil {
		return fmt.Errorf("record task owner: %w", err)
	}
	return nil
}

// taskVisible reports whether p may read task id: services always; a user
// only a task recorded as theirs (principal or the user it acts for).
func taskVisible(ctx context.Context, db *pgxpool.Pool, id string, p Principal) (bool, error) {
	if p.Kind == "service" {
		return true, nil
	}
	if p.Kind != "user" || p.UserID == "" {
		return false, nil
	}
	var ok bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM task_owners
		WHERE task_id = $1 AND (principal = $2 OR user_id = $3))`, id, p.Name, p.UserID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("task owner: %w", err)
	}
	return ok, nil
}
