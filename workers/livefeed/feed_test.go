package livefeed

import (
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
	"fundigo/pkg/live"
	"fundigo/pkg/outcome"
	"fundigo/pkg/tasks/taskstest"
)

// The batch handler appends each event to each owner once, in one round
// trip, and fails only the deliveries that cannot be fed: an undecodable
// body or an unbound routing key (permanent). A redelivered batch appends
// nothing twice.
func TestFeedBatch(t *testing.T) {
	t.Parallel()
	streams, err := live.NewStreams(taskstest.Redis(t), taskstest.Prefix(t), live.Config{})
	require.NoError(t, err)
	specs, err := Consumers(Deps{Log: zerolog.Nop(), Streams: streams})
	require.NoError(t, err)
	require.Len(t, specs, 1)
	h := specs[0].BatchHandler
	require.NotNil(t, h)

	d := func(key, id, body string) amqpx.Delivery {
		return amqpx.Delivery{
			Delivery: amqp.Delivery{RoutingKey: key, MessageId: id, Body: []byte(body)},
			Info:     amqpx.Info{RoutingKey: key, MessageID: id, Attempt: 1},
		}
	}
	batch := []amqpx.Delivery{
		d(events.RoutingKeyPaymentPaid, "m1", `{"id":"p1","customer_id":"c1","amount":100}`),
		d(events.RoutingKeyPaymentPaid, "m2", `{`),
		d(events.RoutingKeyNotificationRequested, "m3", `{"id":"n1","user_ids":["u1","u2","u1"],"title":"t","body":"b"}`),
		d("payout.succeeded", "m4", `{"id":"x"}`),
		d(events.RoutingKeyPaymentFailed, "m5", `{"id":"p2","customer_id":"bad owner"}`),
		d(events.RoutingKeyPaymentPaid, "m6", `{"id":"p3","customer_id":"c1","amount":200}`),
	}
	errs := h(t.Context(), batch)
	require.Len(t, errs, len(batch))
	require.NoError(t, errs[0])
	require.True(t, outcome.IsPermanent(errs[1]), "undecodable")
	require.NoError(t, errs[2])
	require.True(t, outcome.IsPermanent(errs[3]), "no route")
	require.NoError(t, errs[4], "no valid owner: skipped")
	require.NoError(t, errs[5])
	require.Equal(t, []error{nil}, h(t.Context(), batch[:1]), "a redelivery is a duplicate, not an error")

	since := live.StreamID{MS: uint64(time.Now().Add(-time.Minute).UnixMilli())}
	read := func(owner string) []string {
		r, err := streams.Since(t.Context(), owner, since, true)
		require.NoError(t, err)
		var got []string
		for _, m := range r.Messages {
			got = append(got, m.Type+" "+string(m.Data))
		}
		return got
	}
	require.Equal(t, []string{
		`payment.paid {"id":"p1","customer_id":"c1","amount":100}`,
		`payment.paid {"id":"p3","customer_id":"c1","amount":200}`,
	}, read("c1"))
	require.Equal(t, []string{`notification.requested {"body":"b","id":"n1","title":"t"}`}, read("u1"))
	require.Equal(t, []string{`notification.requested {"body":"b","id":"n1","title":"t"}`}, read("u2"))
}
