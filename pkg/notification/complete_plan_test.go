package notification

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/store/storetest"
)

// Completing a batch of notifications reads their own deliveries, however
// many deliveries the table holds, even on a connection that first ran the
// statement while the table was empty and freshly analyzed: a plan cached
// then scanned every delivery for each notification as the table grew.
func TestCompleteSettledStaysAnIndexLookupAsDeliveriesGrow(t *testing.T) {
	t.Parallel()
	t.Run("a batch", func(t *testing.T) {
		t.Parallel()
		completeCostAsDeliveriesGrow(t, func(ctx context.Context, s Store, ids []string) (int64, error) {
			return s.CompleteSettled(ctx, ids, time.Now())
		})
	})
	t.Run("one by one", func(t *testing.T) {
		t.Parallel()
		completeCostAsDeliveriesGrow(t, func(ctx context.Context, s Store, ids []string) (int64, error) {
			var done int64
			for _, id := range ids {
				ok, err := s.CompleteIfSettled(ctx, id, time.Now())
				if err != nil {
					return done, err
				}
				if ok {
					done++
				}
			}
			return done, nil
		})
	})
}

func completeCostAsDeliveriesGrow(t *testing.T, complete func(context.Context, Store, []string) (int64, error)) {
	pool := storetest.NewPool(t)
	ctx := t.Context()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	s := NewStore(conn)
	newSending := func(key string) string {
		t.Helper()
		n, _, err := s.CreateNotification(ctx, Notification{Request: Request{
			ID: uuid.NewString(), SourceKey: key, UserIDs: []string{"u"}, Title: "t", Priority: "normal",
		}})
		require.NoError(t, err)
		_, err = conn.Exec(ctx, `UPDATE notifications SET status = 'sending', fanned_out_at = now() WHERE id = $1`, n.ID)
		require.NoError(t, err)
		return n.ID
	}
	_, err = conn.Exec(ctx, `ANALYZE notification_deliveries`)
	require.NoError(t, err)
	for i := range 8 { // past PostgreSQL's five custom plans: a generic plan would be cached now
		done, err := complete(ctx, s, []string{newSending("warm:" + uuid.NewString())})
		require.NoError(t, err)
		require.EqualValues(t, 1, done, "round %d", i)
	}
	big := newSending("big")
	_, err = conn.Exec(ctx, `
		INSERT INTO notification_deliveries (notification_id, user_id, device_token, platform, locale, status)
		SELECT $1, 'u', 'tok' || g, 'expo', 'en', 'delivered' FROM generate_series(1, 40000) g`, big)
	require.NoError(t, err)
	ids := []string{newSending("a"), newSending("b")}

	before := storetest.TuplesRead(t, conn, "notification_deliveries")
	done, err := complete(ctx, s, ids)
	require.NoError(t, err)
	require.EqualValues(t, 2, done)
	require.Less(t, storetest.TuplesRead(t, conn, "notification_deliveries")-before, int64(1000), "deliveries read to complete 2 notifications beside 40,000 deliveries")
}
