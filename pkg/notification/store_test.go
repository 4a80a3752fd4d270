package notification

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/store/storetest"
)

// Concurrent claims never hand out the same delivery twice, and only
// claimed rows can be settled.
func TestDeliveriesClaimOnce(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	ctx := t.Context()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n, created, err := NewStore(pool).CreateNotification(ctx, Notification{Request: Request{
		ID: uuid.NewString(), SourceKey: "test:1", UserIDs: []string{"u"}, Title: "t", Priority: "normal",
	}})
	require.NoError(t, err)
	require.True(t, created)
	_, created, err = NewStore(pool).CreateNotification(ctx, Notification{Request: Request{
		ID: uuid.NewString(), SourceKey: "test:1", UserIDs: []string{"u"}, Title: "other", Priority: "normal",
	}})
	require.NoError(t, err)
	require.False(t, created, "same source key: the first notification")

	rows := make([]Delivery, 500)
	for i := range rows {
		rows[i] = Delivery{NotificationID: n.ID, UserID: "u", DeviceToken: fmt.Sprintf("t%03d", i),
			Platform: "expo", Locale: "en", Status: DeliveryPending}
	}
	d := NewStore(pool)
	inserted, err := d.InsertDeliveries(ctx, rows, now)
	require.NoError(t, err)
	require.EqualValues(t, 500, inserted)
	inserted, err = d.InsertDeliveries(ctx, rows[:10], now)
	require.NoError(t, err)
	require.Zero(t, inserted, "one row per (notification, device)")

	var (
		mu   sync.Mutex
		seen = map[int64]int{}
		wg   sync.WaitGroup
	)
	for range 12 {
		wg.Go(func() {
			for {
				got, err := d.Claim(ctx, n.ID, now, 37)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, r := range got {
					seen[r.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, 500)
	for id, c := range seen {
		require.Equal(t, 1, c, "delivery %d claimed %d times", id, c)
	}

	// Settling applies to claimed rows only: a second settle of the same
	// row (a duplicate worker) changes nothing.
	var first int64
	for id := range seen {
		first = id
		break
	}
	require.NoError(t, d.Settle(ctx, []Outcome{{ID: first, Status: DeliverySent, Accepted: true, TicketID: "tk-1"}}, now))
	require.NoError(t, d.Settle(ctx, []Outcome{{ID: first, Status: DeliveryFailed, Error: "late"}}, now))
	var status, ticket string
	require.NoError(t, pool.QueryRow(ctx, `SELECT status, ticket_id FROM notification_deliveries WHERE id = $1`, first).Scan(&status, &ticket))
	require.Equal(t, "sent", status)
	require.Equal(t, "tk-1", ticket)
}
