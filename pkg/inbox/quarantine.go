package inbox

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"fundigo/pkg/store"
)

// DefaultQuarantineCap is how many quarantined bodies are kept by default.
const DefaultQuarantineCap = 1000

// MaxQuarantineBody is the most bytes of one body kept in quarantine.
const MaxQuarantineBody = 64 << 10

// Quarantine keeps a body that could not be parsed, for an operator, and
// trims the table to the newest keep rows. Nothing processes it further.
func Quarantine(ctx context.Context, pool *pgxpool.Pool, keep int, route, reason, contentType string, body []byte) error {
	if keep <= 0 {
		keep = DefaultQuarantineCap
	}
	if len(body) > MaxQuarantineBody {
		body = body[:MaxQuarantineBody]
	}
	if body == nil {
		body = []byte{}
	}
	err := store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO inbox_quarantine (route, reason, content_type, body) VALUES ($1, $2, $3, $4)`,
			route, reason, contentType, body); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM inbox_quarantine WHERE id <= (
			SELECT id FROM inbox_quarantine ORDER BY id DESC OFFSET $1 LIMIT 1)`, keep)
		return err
	})
	if err != nil {
		return fmt.Errorf("quarantine %s body: %w", route, err)
	}
	return nil
}

// QuarantinedRow is one kept body.
type QuarantinedRow struct {
	ID          int64
	Route       string
	Reason      string
	ContentType string
	Body        []byte
}

// ListQuarantine returns up to limit quarantined bodies, newest first.
func ListQuarantine(ctx context.Context, pool *pgxpool.Pool, limit int) ([]QuarantinedRow, error) {
	rows, err := pool.Query(ctx, `SELECT id, route, reason, content_type, body FROM inbox_quarantine ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (QuarantinedRow, error) {
		var q QuarantinedRow
		err := r.Scan(&q.ID, &q.Route, &q.Reason, &q.ContentType, &q.Body)
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return out, nil
}
