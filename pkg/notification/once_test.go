package notification

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/events"
)

// payment decodes a payment event payload as the consumer does.
func payment(t *testing.T, body map[string]any) events.Payment {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	var p events.Payment
	require.NoError(t, json.Unmarshal(b, &p))
	return p
}

func (b bundle) addDevice(t *testing.T, user, token, locale string) {
	t.Helper()
	_, _, err := NewStore(b.p.cfg.Pool).UpsertDevice(t.Context(), Device{Token: token, UserID: user, Platform: "expo", Locale: locale}, true)
	require.NoError(t, err)
}

// payment.paid notifies the customer and the technician in their devices'
// languages, exactly once even when the event arrives twice, or twice at
// the same moment.
func TestPaymentPaidNotifiesOnceInLocale(t *testing.T) {
	t.Parallel()
	b := setup(t, options{serve: true})
	b.addDevice(t, "cust-1", "ExponentPushToken[customer-en]", "en")
	b.addDevice(t, "tech-9", "ExpoPushToken[technician-sw]", "sw")
	d := payment(t, map[string]any{
		"id": "pay-1", "job_id": "job-7", "customer_id": "cust-1", "technician_id": "tech-9",
		"amount": 1500, "status": "paid", "mpesa_receipt": "SGH12XYZ9",
	})
	require.NoError(t, b.p.NotifyPayment(t.Context(), events.RoutingKeyPaymentPaid, d))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { require.NoError(t, b.p.NotifyPayment(t.Context(), events.RoutingKeyPaymentPaid, d)) })
	}
	wg.Wait()

	require.Eventually(t, func() bool {
		return len(b.sim.Received("ExponentPushToken[customer-en]")) == 1 && len(b.sim.Received("ExpoPushToken[technician-sw]")) == 1
	}, 10*time.Second, 20*time.Millisecond)
	// Let any duplicate task run before counting.
	require.Eventually(t, func() bool {
		var open int
		_ = b.p.cfg.Pool.QueryRow(t.Context(), `SELECT count(*) FROM notifications WHERE status <> 'done'`).Scan(&open)
		return open == 0
	}, 10*time.Second, 20*time.Millisecond)

	cust := b.sim.Received("ExponentPushToken[customer-en]")
	require.Len(t, cust, 1)
	require.Equal(t, "Payment received", cust[0].Title)
	require.Equal(t, "We received KES 1,500 for your job. M-Pesa receipt SGH12XYZ9.", cust[0].Body)
	require.Equal(t, "high", cust[0].Priority)
	require.Equal(t, "payment-job-7", cust[0].CollapseID)
	require.Equal(t, "pay-1", cust[0].Data["payment_id"])

	tech := b.sim.Received("ExpoPushToken[technician-sw]")
	require.Len(t, tech, 1)
	require.Equal(t, "Kazi imelipiwa", tech[0].Title)
	require.Contains(t, tech[0].Body, "KES 1,500")
	require.Contains(t, tech[0].Body, "job-7")

	var count int
	require.NoError(t, b.p.cfg.Pool.QueryRow(t.Context(), `SELECT count(*) FROM notifications`).Scan(&count))
	require.Equal(t, 2, count)
	require.Equal(t, 2, b.sim.Stats().Messages)
}

func TestPaymentFailedNotifiesCustomerWithReason(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	b.addDevice(t, "cust-2", "ExponentPushToken[customer-sw]", "sw")
	require.NoError(t, b.p.NotifyPayment(t.Context(), events.RoutingKeyPaymentFailed, payment(t, map[string]any{
		"id": "pay-2", "job_id": "job-8", "customer_id": "cust-2", "amount": 700,
		"status": "failed", "failure_reason": "wrong_pin",
	})))
	var id string
	require.NoError(t, b.p.cfg.Pool.QueryRow(t.Context(), `SELECT id::text FROM notifications`).Scan(&id))
	b.drain(t, id)
	got := b.sim.Received("ExponentPushToken[customer-sw]")
	require.Len(t, got, 1)
	require.Equal(t, "Malipo hayakukamilika", got[0].Title)
	require.Contains(t, got[0].Body, "PIN ya M-Pesa haikuwa sahihi")
	require.Contains(t, got[0].Body, "KES 700")
}

func TestPaymentEventWithoutTechnicianOrInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	require.NoError(t, b.p.NotifyPayment(t.Context(), events.RoutingKeyPaymentPaid, payment(t, map[string]any{
		"id": "pay-3", "job_id": "job-9", "customer_id": "cust-3", "amount": 100, "mpesa_receipt": "R1",
	})))
	var count int
	require.NoError(t, b.p.cfg.Pool.QueryRow(t.Context(), `SELECT count(*) FROM notifications`).Scan(&count))
	require.Equal(t, 1, count, "no technician_id: the customer only")

	var ve *ValidationError
	err := b.p.NotifyPayment(t.Context(), events.RoutingKeyPaymentPaid, payment(t, map[string]any{"id": "pay-4"}))
	require.ErrorAs(t, err, &ve, "no customer")
	err = b.p.NotifyPayment(t.Context(), "payment.refunded", payment(t, map[string]any{"id": "pay-5", "customer_id": "c"}))
	require.ErrorAs(t, err, &ve, "not a payment event this domain handles")
}

// A request accepted twice is one notification, one message per device;
// an invalid one is refused and stores nothing.
func TestAcceptTwice(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	b.addDevices(t, 0, 3, "en", expoToken)
	id := uuid.NewString()
	r := Request{ID: id, SourceKey: "api:svc:key-1", UserIDs: users(0, 3), Title: "t", Body: "b"}
	require.NoError(t, b.p.Accept(t.Context(), r))
	b.drain(t, id)
	require.NoError(t, b.p.Accept(t.Context(), r))
	b.drain(t, id)
	require.Equal(t, 3, b.sim.Stats().Messages)

	var ve *ValidationError
	require.ErrorAs(t, b.p.Accept(t.Context(), Request{ID: "x"}), &ve)
	var count int
	require.NoError(t, b.p.cfg.Pool.QueryRow(t.Context(), `SELECT count(*) FROM notifications`).Scan(&count))
	require.Equal(t, 1, count)
}

// A worker that dies between claiming a batch and settling it: the batch is
// never sent again (Expo may have it); after the stale-claim age it is
// failed as outcome unknown and the notification completes.
func TestDeadWorkerNeverResends(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	b.addDevices(t, 0, 150, "en", expoToken)
	id := uuid.NewString()
	require.NoError(t, b.p.Accept(t.Context(), Request{ID: id, UserIDs: users(0, 150), Title: "t", Body: "b"}))

	// The "dead" worker's claim.
	claimed, err := b.p.store.Claim(t.Context(), id, b.clock.Now(), 100)
	require.NoError(t, err)
	require.Len(t, claimed, 100)

	// Asynq retries the task on another worker: only the other 50 go out.
	b.drain(t, id)
	require.Equal(t, 50, b.sim.Stats().Messages)
	require.Equal(t, StatusSending, b.status(t, id))
	require.Equal(t, 100, b.counts(t, id).Queued)

	b.runReceipts(t) // not stale yet
	require.Equal(t, 100, b.counts(t, id).Queued)

	b.clock.Add(11 * time.Minute)
	b.runReceipts(t)
	c := b.counts(t, id)
	require.Equal(t, 100, c.Failed)
	require.Equal(t, StatusDone, b.status(t, id))
	require.NoError(t, b.p.Send(t.Context(), id))
	require.Equal(t, 50, b.sim.Stats().Messages, "the lost batch is never resent")
	for _, d := range claimed {
		require.Empty(t, b.sim.Received(d.DeviceToken))
	}
}

// payout.succeeded tells the technician, in their device's language, once
// even when the event arrives twice; the other payout events tell nobody,
// and an event without a technician is refused.
func TestPayoutSucceededNotifiesTechnicianOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	b.addDevice(t, "tech-5", "ExponentPushToken[tech-sw]", "sw")
	receipt := "UAB12CD34E"
	po := events.Payout{ID: "po-1", TechnicianID: "tech-5", JobID: "job-3", Amount: 2500, Status: "succeeded", MpesaReceipt: &receipt}
	for range 2 {
		require.NoError(t, b.p.NotifyPayout(t.Context(), events.RoutingKeyPayoutSucceeded, po))
	}
	require.NoError(t, b.p.NotifyPayout(t.Context(), events.RoutingKeyPayoutFailed, po), "failures are for operators")
	var id string
	var count int
	require.NoError(t, b.p.cfg.Pool.QueryRow(t.Context(), `SELECT count(*), min(id::text) FROM notifications`).Scan(&count, &id))
	require.Equal(t, 1, count)
	b.drain(t, id)
	got := b.sim.Received("ExponentPushToken[tech-sw]")
	require.Len(t, got, 1)
	require.Equal(t, "Malipo yametumwa", got[0].Title)
	require.Equal(t, "Tumekutumia KES 2,500 kwa kazi job-3. Risiti ya M-Pesa UAB12CD34E.", got[0].Body)
	require.Equal(t, "po-1", got[0].Data["payout_id"])

	var ve *ValidationError
	require.ErrorAs(t, b.p.NotifyPayout(t.Context(), events.RoutingKeyPayoutSucceeded, events.Payout{ID: "po-2"}), &ve)
}
