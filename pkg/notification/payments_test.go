package notification

import (
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/events"
	"fundigo/pkg/outcome"
)

// NotifyPayments (with the sender loop) stores the notifications
// NotifyPayment would, for a whole batch in one statement: same ids and
// source keys, so an event seen twice (in the batch, in a later batch or
// alone) is one notification per recipient; a refused event fails alone.
func TestNotifyPaymentsBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, options{sendLoop: true})
	paid := payment(t, map[string]any{
		"id": "pay-b1", "job_id": "job-1", "customer_id": "cust-1", "technician_id": "tech-1",
		"amount": 1500, "mpesa_receipt": "R1",
	})
	failed := payment(t, map[string]any{
		"id": "pay-b2", "job_id": "job-2", "customer_id": "cust-2", "amount": 700, "failure_reason": "wrong_pin",
	})
	evs := []PaymentEvent{
		{events.RoutingKeyPaymentPaid, paid},
		{events.RoutingKeyPaymentFailed, failed},
		{events.RoutingKeyPaymentPaid, payment(t, map[string]any{"id": "pay-b3"})},
		{events.RoutingKeyPaymentPaid, paid},
		{"payment.refunded", payment(t, map[string]any{"id": "pay-b4", "customer_id": "c"})},
	}
	errs := b.p.NotifyPayments(t.Context(), evs)
	require.Len(t, errs, len(evs))
	var ve *ValidationError
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.ErrorAs(t, errs[2], &ve, "no customer")
	require.NoError(t, errs[3], "the same event twice in a batch")
	require.ErrorAs(t, errs[4], &ve, "not a payment event this domain handles")

	count := func() int {
		var n int
		require.NoError(t, b.p.cfg.Pool.QueryRow(t.Context(), `SELECT count(*) FROM notifications`).Scan(&n))
		return n
	}
	require.Equal(t, 3, count(), "customer and technician of pay-b1, customer of pay-b2")

	// Redelivered, as a batch or alone: nobody is notified twice.
	for _, err := range b.p.NotifyPayments(t.Context(), evs[:2]) {
		require.NoError(t, err)
	}
	require.NoError(t, b.p.NotifyPayment(t.Context(), events.RoutingKeyPaymentPaid, paid))
	require.Equal(t, 3, count())

	key := "event:payment.paid:pay-b1:customer"
	n, err := b.p.store.Notification(t.Context(), uuid.NewSHA1(paymentNamespace, []byte(key)).String())
	require.NoError(t, err)
	require.Equal(t, key, n.SourceKey)
	require.Equal(t, []string{"cust-1"}, n.UserIDs)
	require.Equal(t, "payment_received", n.Template)
	require.Equal(t, PriorityHigh, n.Priority)
	require.Equal(t, categoryPayments, n.Category)
	require.Equal(t, "payment-job-1", n.CollapseID)
	require.Equal(t, StatusQueued, n.Status, "the sender loop fans it out")
	require.EqualValues(t, 1500, n.Params["amount"])
	require.Equal(t, "R1", n.Params["receipt"])
	require.Equal(t, "pay-b1", n.Data["payment_id"])
	tech, err := b.p.store.Notification(t.Context(), uuid.NewSHA1(paymentNamespace, []byte("event:payment.paid:pay-b1:technician")).String())
	require.NoError(t, err)
	require.Equal(t, "job_funded", tech.Template)
	require.Equal(t, PriorityNormal, tech.Priority)
}

// A batch the database refuses for one event's data (a NUL in a text
// column) is stored event by event: only that event fails, permanently.
func TestNotifyPaymentsBadRowFailsAlone(t *testing.T) {
	t.Parallel()
	b := setup(t, options{sendLoop: true})
	errs := b.p.NotifyPayments(t.Context(), []PaymentEvent{
		{events.RoutingKeyPaymentPaid, payment(t, map[string]any{"id": "pay-c1", "job_id": "j", "customer_id": "cust-1"})},
		{events.RoutingKeyPaymentPaid, payment(t, map[string]any{"id": "pay-c2", "job_id": "j\x00", "customer_id": "cust-2"})},
		{events.RoutingKeyPaymentFailed, payment(t, map[string]any{"id": "pay-c3", "job_id": "j", "customer_id": "cust-3"})},
	})
	require.NoError(t, errs[0])
	require.Error(t, errs[1])
	require.Equal(t, outcome.PermanentFailure, outcome.Classify(errs[1]), "%v", errs[1])
	var ve *ValidationError
	require.False(t, errors.As(errs[1], &ve), "refused by the database, not by Validate: %v", errs[1])
	require.NoError(t, errs[2])
	var n int
	require.NoError(t, b.p.cfg.Pool.QueryRow(t.Context(), `SELECT count(*) FROM notifications`).Scan(&n))
	require.Equal(t, 2, n)
}

// AcceptMany (with the sender loop) stores a batch of notification.requested
// requests as Accept stores each one: a request stored already (by an
// earlier delivery or by the API) and one repeated in the batch are one
// notification; a refused request fails alone, whether Validate or the
// database refuses it; the whole batch redelivered changes nothing.
func TestAcceptManyStoresEachRequestOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, options{sendLoop: true})
	req := func(key string, users ...string) Request {
		return Request{ID: uuid.NewString(), SourceKey: key, UserIDs: users, Title: "t", Body: "b"}
	}
	stored := req("api:svc:k0", "u0")
	require.NoError(t, b.p.Accept(t.Context(), stored))
	fresh, again := req("api:svc:k1", "u1"), req("", "u2") // again: source key defaults to notification:<id>
	batch := []Request{
		stored, fresh, req("api:svc:k2"), again, fresh,
		req("api:svc:k3\x00", "u3"), // a NUL: Validate lets it by, the database refuses the batch
		again,
	}
	errs := b.p.AcceptMany(t.Context(), batch)
	require.Len(t, errs, len(batch))
	var ve *ValidationError
	for i, err := range errs {
		switch i {
		case 2:
			require.ErrorAs(t, err, &ve, "no users")
		case 5:
			require.False(t, errors.As(err, &ve), "refused by the database, not by Validate: %v", err)
			require.Equal(t, outcome.PermanentFailure, outcome.Classify(err), "%v", err)
		default:
			require.NoError(t, err, "request %d", i)
		}
	}
	count := func() int {
		var n int
		require.NoError(t, b.p.cfg.Pool.QueryRow(t.Context(), `SELECT count(*) FROM notifications`).Scan(&n))
		return n
	}
	require.Equal(t, 3, count(), "stored, fresh and again, once each")
	n, err := b.p.store.Notification(t.Context(), again.ID)
	require.NoError(t, err)
	require.Equal(t, "notification:"+again.ID, n.SourceKey)
	require.Equal(t, StatusQueued, n.Status, "the sender loop fans it out")

	for i, err := range b.p.AcceptMany(t.Context(), []Request{stored, fresh, again}) {
		require.NoError(t, err, "redelivered %d", i)
	}
	require.Equal(t, 3, count())
}
