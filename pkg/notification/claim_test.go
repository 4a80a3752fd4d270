package notification

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/store/storetest"
)

// A claim reads about what it claims, however many rows are pending and
// whatever the planner's statistics say (a fresh table's, as during any
// burst): with 20,000 pending rows, claiming 100 fetches a few hundred rows,
// not the whole backlog (the sorted plan fetched every pending row twice).
func TestClaimDueCostDoesNotGrowWithTheBacklog(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	ctx := t.Context()
	n, _, err := NewStore(pool).CreateNotification(ctx, Notification{Request: Request{
		ID: uuid.NewString(), SourceKey: "test:backlog", UserIDs: []string{"u"}, Title: "t", Priority: "normal",
	}})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `
		INSERT INTO notification_deliveries (notification_id, user_id, device_token, platform, locale, status)
		SELECT $1, 'u', 'tok' || g, 'expo', 'en', 'pending' FROM generate_series(1, 20000) g`, n.ID)
	require.NoError(t, err)

	// One connection, so its statistics are the ones flushed and read.
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	fetched := func() int64 {
		t.Helper()
		_, err := conn.Exec(ctx, `SELECT pg_stat_force_next_flush()`)
		require.NoError(t, err)
		var v int64
		require.NoError(t, conn.QueryRow(ctx, `
			SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0)
			FROM pg_stat_user_tables WHERE relid = 'notification_deliveries'::regclass`).Scan(&v))
		return v
	}
	before := fetched()
	claimed, err := NewStore(conn).ClaimDue(ctx, time.Now(), 100)
	require.NoError(t, err)
	require.Len(t, claimed, 100)
	read := fetched() - before
	require.Less(t, read, int64(2000), "rows fetched to claim 100 of 20,000 pending")
}
