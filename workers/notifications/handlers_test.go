package notifications

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
	"fundigo/pkg/expo"
	"fundigo/pkg/expo/exposim"
	"fundigo/pkg/notification"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
)

// The adapters' own behaviour: decoding, and mapping the domain's outcomes
// to retry or permanent failure. The workflow itself is tested in
// pkg/notification.

type bundle struct {
	w    *worker
	deps Deps
}

func setup(t *testing.T) bundle {
	t.Helper()
	srv := httptest.NewServer(exposim.New(exposim.Options{}))
	t.Cleanup(srv.Close)
	ec, err := expo.NewClient(expo.Config{BaseURL: srv.URL})
	require.NoError(t, err)
	d := Deps{
		Log: zerolog.Nop(), Pool: storetest.NewPool(t), Tasks: taskstest.Client(t), Queues: taskstest.Queues(t),
		Expo: ec,
	}
	w, err := newWorker(d)
	require.NoError(t, err)
	return bundle{w: w, deps: d}
}

func (b bundle) notifications(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.deps.Pool.QueryRow(t.Context(), `SELECT count(*) FROM notifications`).Scan(&n))
	return n
}

// consumer returns the handler of the consumer on queue, as the worker runs
// it (typed adapter inside the classifier), called with the routing key in
// ctx as the consumer puts it there.
func (b bundle) consumer(t *testing.T, queue string) func(routingKey, body string) error {
	t.Helper()
	specs, err := Consumers(b.deps)
	require.NoError(t, err)
	for _, s := range specs {
		if s.Queue != queue {
			continue
		}
		if s.BatchHandler != nil { // a batch of one
			h := amqpx.WrapBatch(s.BatchHandler, amqpx.Classify())
			return func(routingKey, body string) error {
				info := amqpx.Info{Queue: queue, RoutingKey: routingKey, Attempt: 1}
				return h(t.Context(), []amqpx.Delivery{{Delivery: amqp.Delivery{RoutingKey: routingKey, Body: []byte(body)}, Info: info}})[0]
			}
		}
		h := amqpx.Chain(s.Handler, amqpx.Classify())
		return func(routingKey, body string) error {
			ctx := amqpx.WithInfo(t.Context(), amqpx.Info{Queue: queue, RoutingKey: routingKey, Attempt: 1})
			return h(ctx, amqp.Delivery{RoutingKey: routingKey, Body: []byte(body)})
		}
	}
	t.Fatalf("no consumer on queue %s", queue)
	return nil
}

// notification.requested delivered twice is one notification; a payload
// that cannot be decoded or validated is permanent.
func TestRequestedEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	handle := b.consumer(t, "notifications.requested")
	body, err := json.Marshal(events.NotificationRequested{ID: uuid.NewString(), SourceKey: "api:svc:key-1", UserIDs: []string{"u1"}, Title: "t", Body: "b"})
	require.NoError(t, err)
	require.NoError(t, handle(events.RoutingKeyNotificationRequested, string(body)))
	require.NoError(t, handle(events.RoutingKeyNotificationRequested, string(body)))
	require.Equal(t, 1, b.notifications(t))

	for _, bad := range []string{`{`, `{"id":"x","user_ids":[]}`} {
		err := handle(events.RoutingKeyNotificationRequested, bad)
		require.True(t, amqpx.IsPermanent(err), bad)
	}
	require.Equal(t, 1, b.notifications(t))
}

func TestPaymentEventMalformed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	handle := b.consumer(t, "notifications.payments")
	require.True(t, amqpx.IsPermanent(handle(events.RoutingKeyPaymentPaid, `{`)))
	require.True(t, amqpx.IsPermanent(handle(events.RoutingKeyPaymentPaid, `{"id":"pay-4"}`)), "no customer")
	require.True(t, amqpx.IsPermanent(handle("payment.refunded", `{"id":"pay-6","customer_id":"c1"}`)), "unknown event")
	require.NoError(t, handle(events.RoutingKeyPaymentPaid, `{"id":"pay-5","customer_id":"c1","job_id":"j1","amount":100}`))
	require.Equal(t, 1, b.notifications(t))
}

func TestSendTaskOutcomes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mux := asynq.NewServeMux()
	mux.Use(tasks.Classify())
	require.NoError(t, Register(mux, b.deps))
	err := mux.ProcessTask(t.Context(), asynq.NewTask(tasks.TypePushSend, []byte(`{`)))
	require.True(t, tasks.IsPermanent(err), "undecodable")
	err = mux.ProcessTask(t.Context(), asynq.NewTask(tasks.TypePushSend, []byte(`{}`)))
	require.True(t, tasks.IsPermanent(err), "no notification id")
	err = mux.ProcessTask(t.Context(), asynq.NewTask(tasks.TypePushSend, []byte(`{"notification_id":"`+uuid.NewString()+`"}`)))
	require.True(t, tasks.IsPermanent(err), "no such notification")
	require.NoError(t, mux.ProcessTask(t.Context(), asynq.NewTask(tasks.TypePushReceipts, nil)))
}

// The notification.requested event of a notification stored already (the
// API's Create writes it with its row, marked notification.HeaderStored)
// is acked without being read: its body is not even decoded. A mark naming
// another notification than the message id does, or none, is read and
// stored as any request.
func TestStoredEventsAreAckedUnread(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	r := events.NotificationRequested{ID: uuid.NewString(), UserIDs: []string{"u1"}, Title: "t", Body: "b"}
	_, created, err := notification.Create(ctx, b.deps.Pool, r)
	require.NoError(t, err)
	require.True(t, created)
	var mark string
	require.NoError(t, b.deps.Pool.QueryRow(ctx, `SELECT headers->>$1 FROM outbox WHERE message_id = $2`,
		notification.HeaderStored, r.MessageID()).Scan(&mark))
	require.Equal(t, r.ID, mark, "Create marks its event")

	specs, err := Consumers(b.deps)
	require.NoError(t, err)
	var h amqpx.BatchHandlerFunc
	for _, s := range specs {
		if s.Queue == "notifications.requested" {
			h = amqpx.WrapBatch(s.BatchHandler, amqpx.Classify())
		}
	}
	require.NotNil(t, h)
	deliver := func(messageID string, headers amqp.Table, body string) error {
		info := amqpx.Info{Queue: "notifications.requested", RoutingKey: events.RoutingKeyNotificationRequested, MessageID: messageID, Attempt: 1}
		return h(ctx, []amqpx.Delivery{{Delivery: amqp.Delivery{RoutingKey: info.RoutingKey, MessageId: messageID,
			Headers: headers, Body: []byte(body)}, Info: info}})[0]
	}
	require.NoError(t, deliver(r.MessageID(), amqp.Table{notification.HeaderStored: r.ID}, `{`), "acked unread")

	other := uuid.NewString()
	err = deliver(r.MessageID(), amqp.Table{notification.HeaderStored: other}, `{`)
	require.True(t, amqpx.IsPermanent(err), "a mark for another notification is read: %v", err)
	require.True(t, amqpx.IsPermanent(deliver(r.MessageID(), nil, `{`)), "no mark: read")

	// Unmarked and well-formed: stored as any publisher's request.
	r2 := events.NotificationRequested{ID: uuid.NewString(), UserIDs: []string{"u2"}, Title: "t", Body: "b"}
	body, err := json.Marshal(r2)
	require.NoError(t, err)
	require.NoError(t, deliver(r2.MessageID(), amqp.Table{notification.HeaderStored: 7}, string(body)))
	require.Equal(t, 2, b.notifications(t))
}
