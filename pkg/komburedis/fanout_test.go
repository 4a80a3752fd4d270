package komburedis_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/komburedis"
)

// TestPublishBoundOnlyReachesBoundQueues: a reply routed through a direct
// exchange lands in the bound queue's list; with nobody bound (the pidbox
// client has gone) nothing is written anywhere.
func TestPublishBoundOnlyReachesBoundQueues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tr := newTransport(t, komburedis.Options{})
	p := tr.Options().KeyPrefix

	n, err := tr.PublishBound(ctx, "reply.celery.pidbox", "oid1", envelope("late", 0))
	require.NoError(t, err)
	require.Zero(t, n)
	keys, err := tr.Client().Keys(ctx, p+"*").Result()
	require.NoError(t, err)
	require.Empty(t, keys, "an unbound reply leaves no list behind")

	require.NoError(t, tr.Bind(ctx, "reply.celery.pidbox", "oid1", "oid1.reply.celery.pidbox"))
	n, err = tr.PublishBound(ctx, "reply.celery.pidbox", "oid1", envelope("pong", 0))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	d, err := tr.Receive(ctx, []string{"oid1.reply.celery.pidbox"}, time.Second)
	require.NoError(t, err)
	require.NotNil(t, d)
	require.Equal(t, "reply.celery.pidbox", d.Envelope.Properties.DeliveryInfo.Exchange)
	require.NoError(t, tr.Ack(ctx, d.Tag))
}

// TestSubscribeFanoutReceivesPublishFanout: a subscriber of a fanout
// exchange gets what is published on it, on kombu's channel name.
func TestSubscribeFanoutReceivesPublishFanout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tr := newTransport(t, komburedis.Options{})
	sub, err := tr.SubscribeFanout(ctx, "celery.pidbox", "")
	require.NoError(t, err)
	defer sub.Close() //nolint:errcheck // test
	require.NoError(t, tr.PublishFanout(ctx, "celery.pidbox", "", envelope("ping", 0)))
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	msg, err := sub.ReceiveMessage(rctx)
	require.NoError(t, err)
	require.Equal(t, tr.FanoutChannel("celery.pidbox", ""), msg.Channel)
	require.Contains(t, msg.Channel, "/"+strconv.Itoa(tr.Client().Options().DB)+".celery.pidbox")
	require.Contains(t, msg.Payload, `"correlation_id":"ping"`)
}
