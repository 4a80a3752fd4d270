package maintenance

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"fundigo/pkg/config"
	"fundigo/pkg/inbox"
	"fundigo/pkg/notification"
	"fundigo/pkg/outbox"
	"fundigo/pkg/payment"
	"fundigo/pkg/store"
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
			deleteFunc: poolFunc(store.CleanupIdempotencyKeys)},
		// Settled deliveries only: their ticket and receipt are done with.
		{name: tasks.CleanupPushTickets, tables: []string{"notification_deliveries"}, retention: r.PushTickets,
			deleteFunc: poolFunc(notification.CleanupSettledDeliveries)},
		{name: tasks.CleanupPaymentOrphans, tables: []string{"payment_orphans"}, retention: r.PaymentOrphans,
			deleteFunc: func(ctx context.Context, pool *pgxpool.Pool, d time.Duration, batch int) (int64, error) {
				return payment.CleanupOrphans(ctx, pool, d, r.PaymentOrphansCap, batch)
			}},
		{name: tasks.CleanupTaskOwners, tables: []string{"task_owners"}, retention: r.TaskOwners,
			deleteFunc: poolFunc(store.CleanupTaskOwners)},
	}
}

// poolFunc adapts a building block's batched cleanup to a rule.
func poolFunc(f func(ctx context.Context, db store.DB, olderThan time.Duration, batch int) (int64, error)) func(ctx context.Context, pool *pgxpool.Pool, d time.Duration, batch int) (int64, error) {
	return func(ctx context.Context, pool *pgxpool.Pool, d time.Duration, batch int) (int64, error) {
		return f(ctx, pool, d, batch)
	}
}

// missingTable returns the first of tables that does not exist in the
// search_path, or "".
func missingTable(ctx context.Context, pool *pgxpool.Pool, tables []string) (string, error) {
	for _, t := range tables {
		exists, err := store.TableExists(ctx, pool, t)
		if err != nil {
			return "", err
		}
		if !exists {
			return t, nil
		}
	}
	return "", nil
}
