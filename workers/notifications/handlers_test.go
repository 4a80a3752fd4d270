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
		Expo: ec, Exchange: "test",
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

// notification.requested delivered twice is one notification; a payload
// that cannot be decoded or validated is permanent.
func TestRequestedEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body, err := json.Marshal(events.NotificationRequested{ID: uuid.NewString(), SourceKey: "api:svc:key-1", UserIDs: []string{"u1"}, Title: "t", Body: "b"})
	require.NoError(t, err)
	d := amqp.Delivery{RoutingKey: events.RoutingKeyNotificationRequested, Body: body}
	require.NoError(t, b.w.handleRequested(t.Context(), d))
	require.NoError(t, b.w.handleRequested(t.Context(), d))
	require.Equal(t, 1, b.notifications(t))

	for _, bad := range []string{`{`, `{"id":"x","user_ids":[]}`} {
		err := b.w.handleRequested(t.Context(), amqp.Delivery{RoutingKey: events.RoutingKeyNotificationRequested, Body: []byte(bad)})
		require.True(t, amqpx.IsPermanent(err), bad)
	}
	require.Equal(t, 1, b.notifications(t))
}

func TestPaymentEventMalformed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	err := b.w.handlePayment(t.Context(), amqp.Delivery{RoutingKey: events.RoutingKeyPaymentPaid, Body: []byte(`{`)})
	require.True(t, amqpx.IsPermanent(err))
	err = b.w.handlePayment(t.Context(), amqp.Delivery{RoutingKey: events.RoutingKeyPaymentPaid, Body: []byte(`{"id":"pay-4"}`)})
	require.True(t, amqpx.IsPermanent(err), "no customer")
	err = b.w.handlePayment(t.Context(), amqp.Delivery{RoutingKey: events.RoutingKeyPaymentPaid,
		Body: []byte(`{"id":"pay-5","customer_id":"c1","job_id":"j1","amount":100}`)})
	require.NoError(t, err)
	require.Equal(t, 1, b.notifications(t))
}

func TestSendTaskOutcomes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	err := b.w.handleSend(t.Context(), asynq.NewTask(tasks.TypePushSend, []byte(`{`)))
	require.True(t, tasks.IsPermanent(err), "undecodable")
	err = b.w.handleSend(t.Context(), asynq.NewTask(tasks.TypePushSend, []byte(`{"notification_id":"`+uuid.NewString()+`"}`)))
	require.True(t, tasks.IsPermanent(err), "no such notification")
	require.NoError(t, b.w.handleReceipts(t.Context(), asynq.NewTask(tasks.TypePushReceipts, nil)))
}
