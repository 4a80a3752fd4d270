package maintenance

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"fundigo/pkg/config"
	"fundigo/pkg/inbox"
	"fundigo/pkg/outbox"
	"fundigo/pkg/payment"
	"fundigo/pkg/tasks"
)

// rule is one retention rule: the tables it needs and how it deletes.
type rule struct {
	name       string
	tables     []string // every table the delete touches; the first is reported
	retention  time.Duration
	deleteFunc func(ctx context.Context, pool *pgxpool.Pool, olderThan time.Duration, batch int) (int64, error)
}

// rules lists the retention rules in the order they run.
func rules(r config.Retention) []rule {
	return []rule{
		{name: tasks.CleanupOutbox, tables: []string{"outbox"}, retention: r.Outbox,
			deleteFunc: func(ctx context.Context, pool *pgxpool.Pool, d time.Duration, _ int) (int64, error) {
				return outbox.Cleanup(ctx, pool, d)
			}},
		// An inbox row goes only once its outbox notice was published.
		{name: tasks.CleanupInbox, tables: []string{"inbox", "outbox"}, retention: r.Inbox,
			deleteFunc: func(ctx context.Context, pool *pgxpool.Pool, d time.Duration, _ int) (int64, error) {
				return inbox.Cleanup(ctx, pool, d)
			}},
		{name: tasks.CleanupIdempotencyKeys, tables: []string{"idempotency_keys"}, retention: r.IdempotencyKeys,
			deleteFunc: batched(`DELETE FROM idempotency_keys WHERE (scope, key) IN (
				SELECT scope, key FROM idempotency_keys
				WHERE created_at < now() - $1::interval
				LIMIT $2 FOR UPDATE SKIP LOCKED)`)},
		// Settled deliveries only: their ticket and receipt are done with.
		{name: tasks.CleanupPushTickets, tables: []string{"notification_deliveries"}, retention: r.PushTickets,
			deleteFunc: batched(`DELETE FROM notification_deliveries WHERE id IN (
				SELECT id FROM notification_deliveries
				WHERE status IN ('delivered', 'failed', 'invalid', 'muted')
				  AND coalesce(receipt_checked_at, sent_at, claimed_at, not_before) < now() - $1::interval
				LIMIT $2 FOR UPDATE SKIP LOCKED)`)},
		{name: tasks.CleanupPaymentOrphans, tables: []string{"payment_orphans"}, retention: r.PaymentOrphans,
			deleteFunc: func(ctx context.Context, pool *pgxpool.Pool, d time.Duration, batch int) (int64, error) {
				return payment.CleanupOrphans(ctx, pool, d, r.PaymentOrphansCap, batch)
			}},
		{name: tasks.CleanupTaskOwners, tables: []string{"task_owners"}, retention: r.TaskOwners,
			deleteFunc: batched(`DELETE FROM task_owners WHERE task_id IN (
				SELECT task_id FROM task_owners
				WHERE created_at < now() - $1::interval
				LIMIT $2 FOR UPDATE SKIP LOCKED)`)},
	}
}

// batched runs a DELETE taking ($1 interval, $2 limit) until a batch comes
// back short, so no statement holds locks on millions of rows.
func batched(sql string) func(ctx context.Context, pool *pgxpool.Pool, d time.Duration, batch int) (int64, error) {
	return func(ctx context.Context, pool *pgxpool.Pool, d time.Duration, batch int) (int64, error) {
		var total int64
		for {
			tag, err := pool.Exec(ctx, sql, d, batch)
			if err != nil {
				return total, fmt.Errorf("delete batch: %w", err)
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < int64(batch) {
				return total, nil
			}
		}
	}
}

// missingTable returns the first of tables that does not exist in the
// search_path, or "".
func missingTable(ctx context.Context, pool *pgxpool.Pool, tables []string) (string, error) {
	for _, t := range tables {
		var exists bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, t).Scan(&exists); err != nil {
			return "", fmt.Errorf("look up table %s: %w", t, err)
		}
		if !exists {
			return t, nil
		}
	}
	return "", nil
}
