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
