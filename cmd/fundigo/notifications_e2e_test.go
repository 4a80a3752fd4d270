package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/expo/exposim"
)

// The end-to-end acceptance: devices registered in English and
// Swahili, a payment through the STK simulator, and the customer's and the
// technician's (the payment names the job's technician) notifications
// arriving at the push simulator in the right language exactly once, also
// when the payment event is delivered again.
func TestNotificationsEndToEnd(t *testing.T) {
	t.Parallel()
	sim := exposim.New(exposim.Options{})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	getenv, base := testEnv(t, map[string]string{
		"FUNDIGO_MPESA_CALLBACK_TOKEN":     e2eCallbackToken,
		"FUNDIGO_MPESA_SIM_CALLBACK_DELAY": "200ms",
		"FUNDIGO_EXPO_BASE_URL":            srv.URL,
	})
	stop, logs := startAll(t, getenv, base)
	e := startPaymentsE2EOn(t, getenv, base, logs, stop)

	const custToken, techToken = "ExponentPushToken[customer-en]", "ExpoPushToken[technician-sw]"
	for _, d := range []map[string]any{
		{"user_id": "cust-1", "token": custToken, "platform": "expo", "locale": "en"},
		{"user_id": "tech-1", "token": techToken, "platform": "expo", "locale": "sw"},
	} {
		code, body := e.call(t, http.MethodPost, "/v1/devices", d, nil)
		require.Equal(t, http.StatusCreated, code, "%v", body)
	}

	// The payment names its job's technician, so the real payment.paid event
	// (outbox → RabbitMQ) tells both the customer and the technician.
	code, created := e.call(t, http.MethodPost, "/v1/payments", map[string]any{
		"job_id": "job-e2e-notify", "customer_id": "cust-1", "technician_id": " tech-1 ",
		"phone": "0708374149", "amount": 1500,
	}, nil)
	require.Equal(t, http.StatusAccepted, code, "%v", created)
	require.Equal(t, "tech-1", created["technician_id"])
	id := created["id"].(string)
	p := e.waitStatus(t, id, "paid")
	require.Equal(t, "tech-1", p["technician_id"])
	ev := e.publishedEvent(t, "payment.paid", id)
	require.Equal(t, "tech-1", ev["technician_id"], "the event carries the technician")

	require.Eventually(t, func() bool {
		return len(sim.Received(custToken)) == 1 && len(sim.Received(techToken)) == 1
	}, 30*time.Second, 50*time.Millisecond)
	got := sim.Received(custToken)[0]
	require.Equal(t, "Payment received", got.Title)
	require.Equal(t, "We received KES 1,500 for your job. M-Pesa receipt "+p["mpesa_receipt"].(string)+".", got.Body)
	tech := sim.Received(techToken)[0]
	require.Equal(t, "Kazi imelipiwa", tech.Title)
	require.Contains(t, tech.Body, "KES 1,500")

	// The same event delivered twice more (a redelivery, a re-published
	// outbox row) notifies nobody again. A later event for a user without
	// devices marks the point by which the duplicates were consumed.
	exchange := getenv("FUNDIGO_AMQP_EXCHANGE")
	publishTwice(t, exchange, "payment.paid", ev)
	marker := map[string]any{"id": "00000000-0000-4000-8000-00000000e2e1", "job_id": "job-marker",
		"customer_id": "nobody", "amount": 1, "status": "paid"}
	publishTwice(t, exchange, "payment.paid", marker)
	require.Eventually(t, func() bool {
		var n int
		err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM notifications WHERE source_key = $1`,
			"event:payment.paid:"+marker["id"].(string)+":customer").Scan(&n)
		return err == nil && n == 1
	}, 30*time.Second, 50*time.Millisecond, "the marker event was not consumed")
	require.Never(t, func() bool {
		return len(sim.Received(custToken)) > 1 || len(sim.Received(techToken)) > 1
	}, 2*time.Second, 100*time.Millisecond, "a redelivered event notifies nobody twice")
	var notifications int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM notifications
		WHERE source_key LIKE $1`, "event:payment.paid:"+id+":%").Scan(&notifications))
	require.Equal(t, 2, notifications, "one notification per recipient")

	// A notification through the API: outbox → RabbitMQ → fan-out → Expo.
	code, body := e.call(t, http.MethodPost, "/v1/notifications", map[string]any{
		"user_ids": []string{"cust-1", "tech-1", "nobody"}, "template": "job_assigned",
		"params": map[string]any{"job_id": "J-42"}, "category": "jobs",
	}, map[string]string{"Idempotency-Key": "e2e-1"})
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	nid := body["id"].(string)
	var view map[string]any
	require.Eventually(t, func() bool {
		_, view = e.call(t, http.MethodGet, "/v1/notifications/"+nid, nil, nil)
		return view["status"] == "done"
	}, 30*time.Second, 50*time.Millisecond, "%v", view)
	require.Equal(t, map[string]any{
		"devices": 2.0, "sent": 2.0, "failed": 0.0, "invalid_tokens": 0.0, "awaiting_receipt": 2.0,
		"delivered": 0.0, "deferred": 0.0, "queued": 0.0, "muted": 0.0,
	}, view["counts"])
	require.Equal(t, "Umepewa kazi mpya", sim.Received(techToken)[1].Title)
	require.Equal(t, "New job assigned", sim.Received(custToken)[1].Title)

	// Push tokens never reach the logs.
	require.NotContains(t, logs.String(), "customer-en")
	require.NotContains(t, logs.String(), "technician-sw")
}

func publishTwice(t *testing.T, exchange, key string, payload map[string]any) {
	t.Helper()
	body, err := json.Marshal(payload)
	require.NoError(t, err)
	conn, err := amqp.Dial(amqpxtest.URL())
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.Confirm(false))
	for range 2 {
		conf, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), exchange, key, true, false, amqp.Publishing{
			ContentType: "application/json", DeliveryMode: amqp.Persistent, MessageId: key + ":" + payload["id"].(string), Body: body,
		})
		require.NoError(t, err)
		ok, err := conf.WaitContext(t.Context())
		require.NoError(t, err)
		require.True(t, ok)
	}
}
