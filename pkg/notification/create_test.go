package notification

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// CreateMany stores every request with its notification.requested event in
// one transaction, skips known source keys, refuses the whole batch on one
// invalid request, and the sender loop sends what it queued once each.
func TestCreateManyQueuesForTheSenderLoop(t *testing.T) {
	t.Parallel()
	b := setup(t, options{sendLoop: true})
	b.addDevices(t, 0, 250, "en", expoToken)
	pool := b.p.cfg.Pool
	var rs []Request
	for i := range 200 {
		rs = append(rs, Request{ID: uuid.NewString(), UserIDs: users(i, 1), Title: "Fundi", Body: "on the way"})
	}
	wide := Request{ID: uuid.NewString(), UserIDs: users(0, 250), Title: "Karibu", Body: "b",
		Data: map[string]any{"k": "v"}, Category: "promo"}
	rs = append(rs, wide)

	bad := append([]Request{{ID: uuid.NewString(), UserIDs: users(0, 1)}}, rs[:3]...)
	_, err := CreateMany(t.Context(), pool, bad)
	var verr *ValidationError
	require.True(t, errors.As(err, &verr), "%v", err)

	created, err := CreateMany(t.Context(), pool, rs)
	require.NoError(t, err)
	require.Equal(t, 201, created)
	again := append([]Request{{ID: uuid.NewString(), UserIDs: users(0, 1), Title: "t", Body: "b"}}, rs[:5]...)
	again[1].ID = uuid.NewString() // a replay under the same source key is skipped, whatever its id
	again[1].SourceKey = rs[0].SourceKey
	created, err = CreateMany(t.Context(), pool, again)
	require.NoError(t, err)
	require.Equal(t, 1, created)

	var events int
	require.NoError(t, pool.QueryRow(t.Context(),
		`SELECT count(*) FROM outbox WHERE routing_key = 'notification.requested'`).Scan(&events))
	require.Equal(t, 202, events)
	n, err := b.p.store.Notification(t.Context(), wide.ID)
	require.NoError(t, err)
	require.Equal(t, wide.UserIDs, n.UserIDs, "user ids kept in order")
	require.Equal(t, "promo", n.Category)
	require.Equal(t, "v", n.Data["k"])
	require.Equal(t, StatusQueued, n.Status)

	b.runSender(t, SenderConfig{Batch: 300, Loops: 2, Idle: 20 * time.Millisecond})
	require.Eventually(t, func() bool { return b.sim.Stats().Messages >= 200+250+1 }, 60*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return b.status(t, wide.ID) == StatusDone }, 30*time.Second, 20*time.Millisecond)
	st := b.sim.Stats()
	require.Equal(t, 451, st.Messages)
	require.Equal(t, 3, st.PerToken[expoToken(0)])
	require.Equal(t, 2, st.PerToken[expoToken(1)])
	require.Equal(t, 1, st.PerToken[expoToken(249)])
}
