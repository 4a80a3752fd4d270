package maintenance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/workers/maintenance"
)

var retention = config.Retention{
	Outbox: 7 * 24 * time.Hour, Inbox: 90 * 24 * time.Hour, IdempotencyKeys: 24 * time.Hour,
	PushTickets: 30 * 24 * time.Hour, TaskOwners: 30 * 24 * time.Hour, PaymentOrphans: 30 * 24 * time.Hour, PaymentOrphansCap: 100, BatchSize: 1,
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	_, err := pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err, sql)
}

func count(t *testing.T, pool *pgxpool.Pool, sql string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql)
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// seed writes, per table, rows past retention ("old…") and rows to keep.
func seed(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	exec(t, pool, `INSERT INTO outbox (message_id, exchange, routing_key, payload, created_at, published_at) VALUES
		('old-published', 'x', 'k', '\x00', now() - interval '10 days', now() - interval '10 days'),
		('new-published', 'x', 'k', '\x00', now() - interval '1 hour', now() - interval '1 hour'),
		('old-unpublished', 'x', 'k', '\x00', now() - interval '10 days', NULL)`)
	for _, r := range []struct {
		key  string
		age  string
		note bool // with an unpublished outbox notice
	}{{"old-done", "100 days", false}, {"old-pending", "100 days", true}, {"new", "1 day", false}} {
		var id int64
		require.NoError(t, pool.QueryRow(context.Background(), `INSERT INTO inbox (route, natural_key, body_hash, body, received_at, applied_at)
			VALUES ('mpesa.stk', $1, '\x01', '\x02', now() - $2::interval, now() - $2::interval) RETURNING id`, r.key, r.age).Scan(&id))
		if r.note {
			exec(t, pool, `INSERT INTO outbox (message_id, exchange, routing_key, payload) VALUES ($1, 'x', 'k', '\x00')`, fmt.Sprintf("inbox:%d", id))
		}
	}
	exec(t, pool, `INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES
		('s', 'old-1', '\x00', now() - interval '2 days'), ('s', 'old-2', '\x00', now() - interval '3 days'),
		('s', 'new', '\x00', now() - interval '1 hour')`)
	n := uuid.New()
	exec(t, pool, `INSERT INTO notifications (id, source_key, user_ids) VALUES ($1, 'api:test', '{u1}')`, n)
	exec(t, pool, `INSERT INTO notification_deliveries (notification_id, user_id, device_token, platform, locale, status, sent_at, receipt_checked_at) VALUES
		($1, 'u1', 'old-delivered', 'expo', 'en', 'delivered', now() - interval '40 days', now() - interval '40 days'),
		($1, 'u1', 'old-awaiting-receipt', 'expo', 'en', 'sent', now() - interval '40 days', NULL),
		($1, 'u1', 'new-delivered', 'expo', 'en', 'delivered', now() - interval '1 day', now() - interval '1 day')`, n)
	exec(t, pool, `INSERT INTO payment_orphans (inbox_id, checkout_request_id, body, received_at) VALUES
		(901, 'old-orphan', '\x00', now() - interval '40 days'), (902, 'new-orphan', '\x00', now() - interval '1 day')`)
	exec(t, pool, `INSERT INTO task_owners (task_id, principal, user_id, created_at) VALUES
		('old-task', 'django', '42', now() - interval '40 days'), ('new-task', 'django', '42', now() - interval '1 day')`)
}

func TestCleanupDeletesOnlyRowsPastRetention(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	seed(t, pool)
	mux := asynq.NewServeMux()
	maintenance.Register(mux, maintenance.Deps{Log: zerolog.Nop(), Pool: pool, Retention: retention})

	require.NoError(t, mux.ProcessTask(context.Background(), asynq.NewTask(tasks.TypeMaintenanceCleanup, []byte(`{"schedule":"maintenance:cleanup","tick":"2030-01-01T01:00:00Z"}`))))

	require.ElementsMatch(t, []string{"new-published", "old-unpublished"},
		count(t, pool, `SELECT message_id FROM outbox WHERE message_id NOT LIKE 'inbox:%'`))
	require.ElementsMatch(t, []string{"old-pending", "new"}, count(t, pool, `SELECT natural_key FROM inbox`),
		"an inbox row whose notice is not yet published stays")
	require.ElementsMatch(t, []string{"new"}, count(t, pool, `SELECT key FROM idempotency_keys`))
	require.ElementsMatch(t, []string{"old-awaiting-receipt", "new-delivered"},
		count(t, pool, `SELECT device_token FROM notification_deliveries`))
	require.ElementsMatch(t, []string{"new-task"}, count(t, pool, `SELECT task_id FROM task_owners`))
	require.ElementsMatch(t, []string{"new-orphan"}, count(t, pool, `SELECT checkout_request_id FROM payment_orphans`))

	// Running again deletes nothing more (idempotent).
	require.NoError(t, mux.ProcessTask(context.Background(), asynq.NewTask(tasks.TypeMaintenanceCleanup, nil)))
	require.Len(t, count(t, pool, `SELECT key FROM idempotency_keys`), 1)
}

func TestCleanupSkipsMissingTablesAndDisabledRulesAndReportsThem(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	seed(t, pool)
	exec(t, pool, `DROP TABLE notification_deliveries`)
	r := retention
	r.Outbox = 0
	q := taskstest.Queues(t)
	mux := asynq.NewServeMux()
	maintenance.Register(mux, maintenance.Deps{Log: zerolog.Nop(), Pool: pool, Retention: r})
	taskstest.Serve(t, q, mux)
	client, insp := taskstest.Client(t), taskstest.Inspector(t)

	_, err := client.Enqueue(asynq.NewTask(tasks.TypeMaintenanceCleanup, nil), asynq.Queue(q.Low),
		asynq.TaskID("all"), asynq.Retention(time.Hour))
	require.NoError(t, err)
	var info *asynq.TaskInfo
	require.Eventually(t, func() bool {
		info, err = insp.GetTaskInfo(q.Low, "all")
		return err == nil && info.State == asynq.TaskStateCompleted
	}, 15*time.Second, 20*time.Millisecond)
	var res tasks.MaintenanceCleanupResult
	require.NoError(t, json.Unmarshal(info.Result, &res))
	require.Equal(t, []tasks.MaintenanceCleanupTarget{
		{Name: "outbox", Table: "outbox", Retention: "0s", Skipped: "retention is 0: rows are kept forever"},
		{Name: "inbox", Table: "inbox", Retention: "2160h0m0s", Deleted: 1},
		{Name: "idempotency_keys", Table: "idempotency_keys", Retention: "24h0m0s", Deleted: 2},
		{Name: "push_tickets", Table: "notification_deliveries", Retention: "720h0m0s",
			Skipped: "table notification_deliveries does not exist yet"},
		{Name: "payment_orphans", Table: "payment_orphans", Retention: "720h0m0s", Deleted: 1},
		{Name: "task_owners", Table: "task_owners", Retention: "720h0m0s", Deleted: 1},
	}, res.Targets)
	require.Len(t, count(t, pool, `SELECT message_id FROM outbox`), 4, "outbox retention disabled")

	// A run limited to some rules; an unknown rule is a permanent error.
	_, err = client.Enqueue(asynq.NewTask(tasks.TypeMaintenanceCleanup, []byte(`{"rules":["idempotency_keys"]}`)),
		asynq.Queue(q.Low), asynq.TaskID("some"), asynq.Retention(time.Hour))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err = insp.GetTaskInfo(q.Low, "some")
		return err == nil && info.State == asynq.TaskStateCompleted
	}, 15*time.Second, 20*time.Millisecond)
	require.NoError(t, json.Unmarshal(info.Result, &res))
	require.Len(t, res.Targets, 1)
	require.Equal(t, "idempotency_keys", res.Targets[0].Name)

	_, err = client.Enqueue(asynq.NewTask(tasks.TypeMaintenanceCleanup, []byte(`{"rules":["everything"]}`)),
		asynq.Queue(q.Low), asynq.TaskID("bad"), asynq.MaxRetry(5))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err = insp.GetTaskInfo(q.Low, "bad")
		return err == nil && info.State == asynq.TaskStateArchived
	}, 15*time.Second, 20*time.Millisecond)
	require.Contains(t, info.LastErr, `unknown cleanup rule "everything"`)
	require.Zero(t, info.Retried, "a bad payload is not retried")
}
