package inbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"fundigo/pkg/store"
)

// Row is a stored delivery.
type Row struct {
	ID         int64
	Route      string
	Key        string
	Body       []byte
	ReceivedAt time.Time
}

// Querier is satisfied by *pgxpool.Pool and pgx.Tx.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Get loads inbox row id; store.ErrNotFound if it does not exist (deleted by
// retention).
func Get(ctx context.Context, q Querier, id int64) (Row, error) {
	var r Row
	err := q.QueryRow(ctx, `SELECT id, route, natural_key, body, received_at FROM inbox WHERE id = $1`, id).
		Scan(&r.ID, &r.Route, &r.Key, &r.Body, &r.ReceivedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Row{}, fmt.Errorf("get inbox row %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return Row{}, fmt.Errorf("get inbox row %d: %w", id, err)
	}
	return r, nil
}

// MarkApplied marks inbox row id applied at at, inside the transaction that
// applies it; false when it was applied before (a redelivered notice:
// change nothing).
func MarkApplied(ctx context.Context, db store.DB, id int64, at time.Time) (bool, error) {
	tag, err := db.Exec(ctx, `UPDATE inbox SET applied_at = $2 WHERE id = $1 AND applied_at IS NULL`, id, at)
	if err != nil {
		return false, fmt.Errorf("mark inbox row %d applied: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}
