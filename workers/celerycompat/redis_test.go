package celerycompat_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/celery"
)

// TestRedisNonEnvelopeIsDeadLettered: a list item on a Redis broker queue
// that is not a kombu envelope is not recorded as unacked, so the worker that
// popped it holds its only copy; it is kept in the dead-letter list (never
// dropped) and the worker goes on with the next message.
func TestRedisNonEnvelopeIsDeadLettered(t *testing.T) {
	t.Parallel()
	b := setup(t, options{redis: true})
	rec, _ := b.startAdd(t)
	ctx := context.Background()
	const garbage = "not json"
	require.NoError(t, b.rdb.LPush(ctx, b.kombu.Options().KeyPrefix+b.queue, garbage).Err())
	require.Eventually(t, func() bool { return b.ready(t, b.dlq) == 1 && b.ready(t, b.queue) == 0 },
		10*time.Second, 20*time.Millisecond, "the item is kept, never dropped")
	listed := b.listDeadLetters(t)
	require.Len(t, listed, 1)
	require.Equal(t, b.queue, listed[0].Queue)
	require.Contains(t, listed[0].Reason, "not a kombu envelope")
	require.Equal(t, len(garbage), listed[0].Bytes, "the item as it was popped")

	m := newMessage(t, "tests.add", 2, 3)
	b.send(t, m)
	b.waitState(t, m.ID, celery.StateSuccess, 10*time.Second)
	require.Len(t, rec.calls(), 1)
	require.Eventually(t, func() bool {
		n, err := b.rdb.HLen(ctx, b.kombu.Options().KeyPrefix+"unacked").Result()
		return err == nil && n == 0
	}, 5*time.Second, 20*time.Millisecond, "nothing left held")
}
