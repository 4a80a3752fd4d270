package celerycompat_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/celery"
	"fundigo/pkg/events"
	"fundigo/pkg/inbox"
	"fundigo/pkg/notification"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/workers/celerycompat"
)

type handlerBundle struct {
	pool     *pgxpool.Pool
	queues   tasks.Queues
	handlers map[string]celerycompat.HandlerFunc
}

func setupHandlers(t *testing.T) handlerBundle {
	t.Helper()
	pool := storetest.NewPool(t)
	w, err := inbox.NewWriter(pool, inbox.WriterConfig{})
	require.NoError(t, err)
	q := taskstest.Queues(t)
	deps := celerycompat.HandlerDeps{Pool: pool, Inbox: w, QuarantineCap: 10,
		Tasks: taskstest.Client(t), Queues: q}
	return handlerBundle{pool: pool, queues: q, handlers: celerycompat.Handlers(deps)}
}

// call runs a built-in handler on a message built like .delay(args...).
func (h handlerBundle) call(t *testing.T, name string, m *celery.Message) (any, error) {
	t.Helper()
	return h.handlers[name](context.Background(), m)
}

func excOf(t *testing.T, err error) *celery.Exception {
	t.Helper()
	var exc *celery.Exception
	require.ErrorAs(t, err, &exc)
	return exc
}

func TestSendNotificationCreatesItLikeTheAPI(t *testing.T) {
	t.Parallel()
	h := setupHandlers(t)
	ctx := context.Background()
	m := newMessage(t, "notifications.tasks.send_notification_async", 42, "Fundi yako yuko njiani")
	out, err := h.call(t, celerycompat.HandlerSendNotification, m)
	require.NoError(t, err)
	id := out.(map[string]any)["notification_id"].(string)

	n, err := notification.NewStore(h.pool).Notification(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []string{"42"}, n.UserIDs)
	require.Equal(t, "Fundi yako yuko njiani", n.Body)
	require.Equal(t, notification.StatusQueued, n.Status)

	var payload []byte
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT payload FROM outbox WHERE routing_key = $1`,
		events.RoutingKeyNotificationRequested).Scan(&payload))
	var ev events.NotificationRequested
	require.NoError(t, json.Unmarshal(payload, &ev))
	require.Equal(t, id, ev.ID)
	require.Equal(t, "celery:"+m.ID, ev.SourceKey)

	// A redelivery is the same notification, announced once.
	again, err := h.call(t, celerycompat.HandlerSendNotification, m)
	require.NoError(t, err)
	require.Equal(t, out, again)
	var count int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&count))
	require.Equal(t, 1, count)

	// Keyword arguments and string ids work as in Python.
	kw, err := celery.NewMessage("notifications.tasks.send_notification_async", nil,
		map[string]any{"user_id": "u-7", "message": "hi"})
	require.NoError(t, err)
	_, err = h.call(t, celerycompat.HandlerSendNotification, kw)
	require.NoError(t, err)
}

func TestSendNotificationBadCalls(t *testing.T) {
	t.Parallel()
	h := setupHandlers(t)
	for _, tc := range []struct {
		name    string
		args    []any
		kwargs  map[string]any
		excType string
		msg     string
	}{
		{"missing message", []any{1}, nil, "TypeError", "missing required argument: 'message'"},
		{"too many", []any{1, "a", "b"}, nil, "TypeError", "takes 2 positional arguments but 3 were given"},
		{"unknown keyword", []any{1, "a"}, map[string]any{"urgent": true}, "TypeError", "unexpected keyword argument 'urgent'"},
		{"both ways", []any{1, "a"}, map[string]any{"user_id": 2}, "TypeError", "multiple values for argument 'user_id'"},
		{"message not a str", []any{1, 5}, nil, "TypeError", "argument 'message'"},
		{"user id a list", []any{[]any{1}, "a"}, nil, "TypeError", "must be an int or a str"},
		{"empty message", []any{1, ""}, nil, "ValueError", "message must be"},
		// 1,001 characters, 2,002 bytes: providers count bytes (issue 18 row 7).
		{"message over 2000 bytes", []any{1, strings.Repeat("é", 1001)}, nil, "ValueError", "message must be"},
	} {
		m, err := celery.NewMessage("notifications.tasks.send_notification_async", tc.args, tc.kwargs)
		require.NoError(t, err)
		_, err = h.call(t, celerycompat.HandlerSendNotification, m)
		exc := excOf(t, err)
		require.Equal(t, tc.excType, exc.Type, tc.name)
		require.Contains(t, exc.Message[0], tc.msg, tc.name)
	}
	var count int
	require.NoError(t, h.pool.QueryRow(context.Background(), `SELECT count(*) FROM notifications`).Scan(&count))
	require.Zero(t, count, "bad calls change nothing")
}

const stkCallback = `{"Body": {"stkCallback": {"MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": "ws_CO_191220191020363925",
 "ResultCode": 0, "ResultDesc": "The service request is processed successfully.", "CallbackMetadata": {"Item": [
 {"Name": "Amount", "Value": 1.00}, {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
 {"Name": "TransactionDate", "Value": 20191219102115}, {"Name": "PhoneNumber", "Value": 254708374149}]}}}}`

func TestPaymentCallbackGoesThroughTheWebhookInbox(t *testing.T) {
	t.Parallel()
	h := setupHandlers(t)
	ctx := context.Background()
	var data map[string]any
	require.NoError(t, celery.Unmarshal([]byte(stkCallback), &data))
	m := newMessage(t, "payments.tasks.process_payment_callback", data)
	out, err := h.call(t, celerycompat.HandlerPaymentCallback, m)
	require.NoError(t, err)
	res := out.(map[string]any)
	require.Equal(t, "ws_CO_191220191020363925", res["checkout_request_id"])

	row, err := inbox.Get(ctx, h.pool, res["inbox_id"].(int64))
	require.NoError(t, err)
	require.Equal(t, "mpesa.stk", row.Route)
	require.Equal(t, "ws_CO_191220191020363925", row.Key)
	require.JSONEq(t, stkCallback, string(row.Body))
	// As for the webhook, the stored row itself is the payments applier's
	// unit of work (claimed from the inbox, no RabbitMQ notice).
	var claimable bool
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT applied_at IS NULL AND stuck_at IS NULL FROM inbox WHERE id = $1`,
		res["inbox_id"].(int64)).Scan(&claimable))
	require.True(t, claimable, "the payments applier will claim the row, as for the webhook")
	var notices int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE routing_key = $1`,
		events.RoutingKeySTKCallbackReceived).Scan(&notices))
	require.Zero(t, notices, "no RabbitMQ hop for a stored callback")

	// A redelivery hits the inbox's dedupe; a str body (request.body) works too.
	again, err := h.call(t, celerycompat.HandlerPaymentCallback, m)
	require.NoError(t, err)
	require.Equal(t, res["inbox_id"], again.(map[string]any)["inbox_id"])
	asText := newMessage(t, "payments.tasks.process_payment_callback", stkCallback)
	_, err = h.call(t, celerycompat.HandlerPaymentCallback, asText)
	require.NoError(t, err)
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM inbox`).Scan(&notices))
	require.Equal(t, 2, notices, "different bytes are a new inbox row; the payments worker dedupes on CheckoutRequestID")
}

func TestPaymentCallbackRejectsNonCallbacks(t *testing.T) {
	t.Parallel()
	h := setupHandlers(t)
	ctx := context.Background()
	m := newMessage(t, "payments.tasks.process_payment_callback", map[string]any{"Body": map[string]any{}})
	_, err := h.call(t, celerycompat.HandlerPaymentCallback, m)
	exc := excOf(t, err)
	require.Equal(t, "ValueError", exc.Type)
	var quarantined, stored int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM inbox_quarantine WHERE route = 'mpesa.stk'`).Scan(&quarantined))
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM inbox`).Scan(&stored))
	require.Equal(t, 1, quarantined, "kept for an operator, as the webhook does")
	require.Zero(t, stored)

	_, err = h.call(t, celerycompat.HandlerPaymentCallback, newMessage(t, "payments.tasks.process_payment_callback", 5))
	require.Equal(t, "TypeError", excOf(t, err).Type)
}

func TestUpdateRatingsEnqueuesTheNativeBatchOnce(t *testing.T) {
	t.Parallel()
	h := setupHandlers(t)
	m := newMessage(t, "ratings.tasks.update_technician_ratings")
	out, err := h.call(t, celerycompat.HandlerRecomputeRatings, m)
	require.NoError(t, err)
	id := out.(map[string]any)["task_id"].(string)
	require.Equal(t, "celery:"+m.ID, id)
	again, err := h.call(t, celerycompat.HandlerRecomputeRatings, m)
	require.NoError(t, err)
	require.Equal(t, out, again)

	info, err := taskstest.Inspector(t).GetTaskInfo(h.queues.Low, id)
	require.NoError(t, err)
	require.Equal(t, tasks.TypeRatingsRecomputeAll, info.Type)
	require.Equal(t, asynq.TaskStatePending, info.State)
	pending, err := taskstest.Inspector(t).ListPendingTasks(h.queues.Low)
	require.NoError(t, err)
	require.Len(t, pending, 1, "a redelivered task enqueues nothing twice")
	var kind, state string
	require.NoError(t, h.pool.QueryRow(context.Background(), `SELECT kind, state FROM commands WHERE id = $1`, id).Scan(&kind, &state),
		"the same command row as POST /v1/admin/ratings/recompute")
	require.Equal(t, tasks.TypeRatingsRecomputeAll, kind)
	require.Equal(t, "accepted", state)

	_, err = h.call(t, celerycompat.HandlerRecomputeRatings, newMessage(t, "ratings.tasks.update_technician_ratings", 1))
	require.Equal(t, "TypeError", excOf(t, err).Type)
}
