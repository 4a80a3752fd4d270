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
// burst): with 20,000 pending rows, claiming 100 reads a few hundred index
// entries and rows, not the whole backlog. The sorted plan fetched every
// pending row twice; the bitmap plan that replaced it read every pending
// index entry (and, as claims went by, the heap of every row claimed
// before), 490 ms a claim at 200,000 deliveries in the push-path bench.
func TestClaimDueCostDoesNotGrowWithTheBacklog(t *testing.T) {
	t.Parallel()
	t.Run("fresh table", func(t *testing.T) {
		t.Parallel()
		claimCostWithBacklog(t, false)
	})
	t.Run("statistics taken while nothing was pending", func(t *testing.T) {
		t.Parallel()
		claimCostWithBacklog(t, true)
	})
}

func claimCostWithBacklog(t *testing.T, quietStats bool) {
	pool := storetest.NewPool(t)
	ctx := t.Context()
	n, _, err := NewStore(pool).CreateNotification(ctx, Notification{Request: Request{
		ID: uuid.NewString(), SourceKey: "test:backlog", UserIDs: []string{"u"}, Title: "t", Priority: "normal",
	}})
	require.NoError(t, err)
	if quietStats {
		_, err = pool.Exec(ctx, `
			INSERT INTO notification_deliveries (notification_id, user_id, device_token, platform, locale, status)
			SELECT $1, 'u', 'old' || g, 'expo', 'en', 'delivered' FROM generate_series(1, 20000) g`, n.ID)
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `ANALYZE notification_deliveries`)
		require.NoError(t, err)
	}
	_, err = pool.Exec(ctx, `
		INSERT INTO notification_deliveries (notification_id, user_id, device_token, platform, locale, status)
		SELECT $1, 'u', 'tok' || g, 'expo', 'en', 'pending' FROM generate_series(1, 20000) g`, n.ID)
	require.NoError(t, err)

	// One connection, so its statistics are the ones flushed and read.
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	// Six claims first, so a plan the function keeps for the session (a
	// generic one after five) is the one measured.
	for range 6 {
		warm, err := NewStore(conn).ClaimDue(ctx, time.Now(), 1)
		require.NoError(t, err)
		require.Len(t, warm, 1)
	}
	before := storetest.TuplesRead(t, conn, "notification_deliveries")
	claimed, err := NewStore(conn).ClaimDue(ctx, time.Now(), 100)
	require.NoError(t, err)
	require.Len(t, claimed, 100)
	read := storetest.TuplesRead(t, conn, "notification_deliveries") - before
	require.Less(t, read, int64(2000), "index entries and rows read to claim 100 of 20,000 pending")
}
