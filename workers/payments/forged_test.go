package payments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"fundigo/pkg/mpesa/mpesasim"
	"fundigo/pkg/payment"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/workers/payments"
)

// serveTasks gives the flow an Asynq client and a server for its queues, so
// the confirmations the applier requests run by themselves.
func (f *flow) serveTasks(t *testing.T) {
	t.Helper()
	f.deps.Tasks = taskstest.Client(t)
	f.mux = asynq.NewServeMux()
	require.NoError(t, payments.Register(f.mux, f.deps))
	specs, err := payments.Consumers(f.deps)
	require.NoError(t, err)
	f.apply = specs[0].Handler
	taskstest.Serve(t, f.deps.Queues, f.mux)
}

// post delivers body to the callback receiver, as anyone holding the
// webhook's path token could.
func (f *flow) post(t *testing.T, body []byte) {
	t.Helper()
	resp, err := http.Post(f.receiverURL, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// confirm runs the confirmation task of checkout now.
func (f *flow) confirm(t *testing.T, checkout string) error {
	t.Helper()
	task, err := tasks.NewPaymentConfirm(context.Background(), checkout, "q")
	require.NoError(t, err)
	return f.mux.ProcessTask(context.Background(), task)
}

func (f *flow) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, f.deps.Pool.QueryRow(context.Background(), q, args...).Scan(&n))
	return n
}

// TestForgedSuccessIsNeverPaidWithoutDaraja is issue #12 row 1: with no
// source allowlist (the default, and every development setup), a success
// callback from an untrusted source — right path token, the payment's real
// CheckoutRequestID, amount and phone, a receipt in Daraja's format — is
// never applied as paid by any path (the notice consumer, the batched
// applier, the confirmation, reconciliation's forgotten-callback sweep)
// while Daraja does not confirm the push. The simulator never completes
// this push, so its STK Query keeps answering "being processed".
func TestForgedSuccessIsNeverPaidWithoutDaraja(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 5*time.Second)
	f.untrusted.Store(true)
	id := f.create(t, mpesasim.PhoneSilent, 100)
	require.NoError(t, f.push(t, id))
	p := f.get(t, id)
	require.Equal(t, payment.AwaitingCallback, p.Status)

	f.post(t, mpesasim.CallbackBody("m-1", p.CheckoutRequestID, "0", "The service request is processed successfully.",
		100, "FAKE000001", mpesasim.PhoneSilent, time.Now()))
	require.Equal(t, payment.AwaitingCallback, f.get(t, id).Status, "the notice consumer did not pay it")

	a, err := payments.Applier(f.deps)
	require.NoError(t, err)
	_, err = a.ApplyBatch(context.Background())
	require.NoError(t, err)
	require.Equal(t, payment.AwaitingCallback, f.get(t, id).Status, "the applier did not pay it")

	notYet := f.confirm(t, p.CheckoutRequestID)
	require.ErrorIs(t, notYet, payment.ErrNotConfirmed, "Daraja has not settled it: retried")
	require.Equal(t, payment.AwaitingCallback, f.get(t, id).Status, "the confirmation did not pay it")
	// Retried within seconds at any attempt, not after the generic backoff's
	// minutes: the customer may answer any moment.
	for _, attempt := range []int{0, 5, 11} {
		require.LessOrEqual(t, tasks.RetryDelay(attempt, notYet, nil), 5*time.Second, "attempt %d", attempt)
	}

	// Reconciliation past QueryAfter: its STK Query says "being processed",
	// and its sweep of forgotten callbacks does not apply the waiting row.
	reconcileAt(t, f.deps, time.Now().Add(5*time.Minute))
	p = f.get(t, id)
	require.Equal(t, payment.AwaitingCallback, p.Status, "reconciliation did not pay it")
	require.Empty(t, p.MpesaReceipt)
	require.Zero(t, f.count(t, `SELECT count(*) FROM payment_ledger WHERE payment_id = $1`, id), "no money recorded")
	require.Zero(t, f.count(t, `SELECT count(*) FROM outbox WHERE routing_key = 'payment.paid'`))
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM inbox WHERE natural_key = $1 AND applied_at IS NULL
		AND last_error LIKE '%awaiting confirmation%'`, p.CheckoutRequestID), "the callback waits as evidence")
}

// TestUntrustedSuccessIsPaidAsSoonAsDarajaConfirms is issue #12 row 1 (the
// positive half) and the prompt confirmation: an untrusted success makes the
// applier ask Daraja at once (a payments:confirm task, one per push), not
// after reconciliation's QueryAfter (a minute here); once the simulator's
// STK Query reports ResultCode 0 the payment is paid with the callback's
// receipt, recorded once, and its payment.paid event carries the receipt.
func TestUntrustedSuccessIsPaidAsSoonAsDarajaConfirms(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 5*time.Second)
	f.serveTasks(t)
	f.untrusted.Store(true)
	// The query-only number: Daraja completes the push and answers STK
	// Query with 0, but sends no callback of its own.
	id := f.create(t, mpesasim.PhoneQueryOnly, 100)
	require.NoError(t, f.push(t, id))
	p := f.get(t, id)
	body := mpesasim.CallbackBody("m-1", p.CheckoutRequestID, "0", "The service request is processed successfully.",
		100, "QRYONLY001", mpesasim.PhoneQueryOnly, time.Now())
	queriesBefore := f.sim.Stats().Queries
	f.post(t, body)
	f.post(t, append(body, ' ')) // a second copy: still one confirmation

	p = f.waitStatus(t, id, payment.Paid)
	require.Equal(t, "QRYONLY001", p.MpesaReceipt)
	require.Equal(t, "0", p.ResultCode)
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM payment_ledger WHERE payment_id = $1`, id))
	var payload []byte
	require.NoError(t, f.deps.Pool.QueryRow(context.Background(),
		`SELECT payload FROM outbox WHERE message_id = $1`, "payment.paid:"+id).Scan(&payload))
	var ev map[string]any
	require.NoError(t, json.Unmarshal(payload, &ev))
	require.Equal(t, "QRYONLY001", ev["mpesa_receipt"], "the paid event carries the confirmed callback's receipt")
	require.Eventually(t, func() bool {
		return f.count(t, `SELECT count(*) FROM inbox WHERE natural_key = $1 AND applied_at IS NULL`, p.CheckoutRequestID) == 0
	}, 10*time.Second, 20*time.Millisecond, "both copies applied")
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM payment_callbacks WHERE checkout_request_id = $1 AND outcome = 'paid'`,
		p.CheckoutRequestID))
	asked := f.sim.Stats().Queries - queriesBefore
	require.GreaterOrEqual(t, asked, 1, "paid on Daraja's word, not the callback's")
	require.LessOrEqual(t, asked, 3, "one confirmation per push, not one per callback")
}

// TestUntrustedSuccessContradictedByDarajaIsNeverPaid: Daraja's STK Query
// says the customer cancelled; the untrusted success is then judged against
// a failed payment (success after failure: needs_review for an operator,
// never paid).
func TestUntrustedSuccessContradictedByDarajaIsNeverPaid(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 5*time.Second)
	f.drop.Store(true) // Daraja's own "cancelled" callback is lost
	id := f.create(t, mpesasim.PhoneCancelled, 100)
	require.NoError(t, f.push(t, id))
	require.Eventually(t, func() bool { return f.sim.Stats().CallbacksSent == 1 }, 10*time.Second, 10*time.Millisecond)
	f.drop.Store(false)
	f.untrusted.Store(true)
	p := f.get(t, id)
	f.post(t, mpesasim.CallbackBody("m-1", p.CheckoutRequestID, "0", "ok", 100, "FAKE000002", mpesasim.PhoneCancelled, time.Now()))
	require.Equal(t, payment.AwaitingCallback, f.get(t, id).Status)

	require.NoError(t, f.confirm(t, p.CheckoutRequestID))
	p = f.get(t, id)
	require.Equal(t, payment.NeedsReview, p.Status)
	require.Equal(t, "cancelled", p.FailureReason, "Daraja's answer was applied first")
	require.Contains(t, p.ReviewReason, "success after failure")
	require.Zero(t, f.count(t, `SELECT count(*) FROM outbox WHERE message_id = $1`, "payment.paid:"+id))
}

// TestAmbiguousMatchWaitsForDarajaBeforeLinking is issue #12 row 1 (the
// ambiguous push): a success callback whose CheckoutRequestID we never
// learnt matches an ambiguous push by phone and amount; even from a trusted
// source it is only kept as an orphan until STK Query confirms that
// CheckoutRequestID, then linked and paid with its receipt.
func TestAmbiguousMatchWaitsForDarajaBeforeLinking(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 300*time.Millisecond)
	warm := f.create(t, mpesasim.PhoneSilent, 5) // fetch the token first
	require.NoError(t, f.push(t, warm))
	f.sim.SetFaults(mpesasim.Faults{Hang: 1, HangFor: 2 * time.Second, CallbackDelay: time.Second})
	id := f.create(t, mpesasim.PhoneSuccess, 100)
	require.NoError(t, f.push(t, id))
	require.True(t, f.get(t, id).PushAmbiguous)

	var checkout string
	require.Eventually(t, func() bool {
		return f.deps.Pool.QueryRow(context.Background(), `SELECT checkout_request_id FROM payment_orphans`).Scan(&checkout) == nil
	}, 15*time.Second, 10*time.Millisecond, "the simulator's callback arrives and is kept as an orphan")
	p := f.get(t, id)
	require.Equal(t, payment.AwaitingCallback, p.Status, "phone and amount alone do not pay")
	require.Empty(t, p.CheckoutRequestID, "nor link")

	require.NoError(t, f.confirm(t, checkout))
	p = f.get(t, id)
	require.Equal(t, payment.Paid, p.Status)
	require.Equal(t, checkout, p.CheckoutRequestID)
	require.NotEmpty(t, p.MpesaReceipt)
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM payment_orphans WHERE matched_payment_id = $1`, id))
}

// TestForgedSuccessMatchingAnAmbiguousPushIsNotLinked: a forged success
// with an invented CheckoutRequestID and the phone and amount of an
// ambiguous push is never linked: Daraja does not know that
// CheckoutRequestID, so the callback stays an orphan for an operator.
func TestForgedSuccessMatchingAnAmbiguousPushIsNotLinked(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 300*time.Millisecond)
	warm := f.create(t, mpesasim.PhoneSilent, 5)
	require.NoError(t, f.push(t, warm))
	f.sim.SetFaults(mpesasim.Faults{Hang: 1, HangFor: 2 * time.Second})
	id := f.create(t, mpesasim.PhoneSilent, 100)
	require.NoError(t, f.push(t, id))
	require.True(t, f.get(t, id).PushAmbiguous)

	const forged = "ws_CO_02122026101010999999"
	f.post(t, mpesasim.CallbackBody("m-9", forged, "0", "ok", 100, "FAKE000003", mpesasim.PhoneSilent, time.Now()))
	p := f.get(t, id)
	require.Equal(t, payment.AwaitingCallback, p.Status, "not paid on phone and amount")
	require.Empty(t, p.CheckoutRequestID, "not linked")

	require.NoError(t, f.confirm(t, forged), "Daraja's refusal is a final answer")
	p = f.get(t, id)
	require.Equal(t, payment.AwaitingCallback, p.Status)
	require.Empty(t, p.CheckoutRequestID)
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM payment_orphans WHERE checkout_request_id = $1 AND matched_at IS NULL`, forged))
	require.Zero(t, f.count(t, `SELECT count(*) FROM payment_ledger`))
}

// TestForgedFailureNeverFailsAPaymentDarajaPaid: a failure callback from an
// untrusted source (right path token, the payment's real CheckoutRequestID)
// settles nothing on its own word; the applier asks Daraja, whose STK Query
// reports the push paid, so the payment is paid by query and the forged
// failure is recorded as refuted. Before, a forger holding the token could
// fail any customer's payment.
func TestForgedFailureNeverFailsAPaymentDarajaPaid(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 5*time.Second)
	f.untrusted.Store(true)
	id := f.create(t, mpesasim.PhoneQueryOnly, 100) // paid, reported by STK Query only
	require.NoError(t, f.push(t, id))
	p := f.get(t, id)
	require.Equal(t, payment.AwaitingCallback, p.Status)

	f.post(t, mpesasim.CallbackBody("m-1", p.CheckoutRequestID, "1032", "Request cancelled by user", 0, "", "", time.Time{}))
	a, err := payments.Applier(f.deps)
	require.NoError(t, err)
	_, err = a.ApplyBatch(context.Background())
	require.NoError(t, err)
	require.Equal(t, payment.AwaitingCallback, f.get(t, id).Status, "an untrusted failure does not fail the payment")
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM inbox WHERE natural_key = $1 AND applied_at IS NULL
		AND last_error LIKE '%awaiting confirmation%'`, p.CheckoutRequestID), "the failure waits as evidence")

	// Daraja's answer: the confirmation the applier asks for (this flow
	// had no task client above, so it is run here, once the simulator has
	// completed the push).
	require.Eventually(t, func() bool { return f.confirm(t, p.CheckoutRequestID) == nil }, 15*time.Second, 100*time.Millisecond)
	p = f.waitStatus(t, id, payment.Paid)
	require.Empty(t, p.FailureReason)
	require.Eventually(t, func() bool {
		return f.count(t, `SELECT count(*) FROM payment_callbacks WHERE checkout_request_id = $1 AND outcome = 'refuted'`,
			p.CheckoutRequestID) == 1
	}, 10*time.Second, 20*time.Millisecond, "the forged failure is recorded as refuted")
	require.Zero(t, f.count(t, `SELECT count(*) FROM outbox WHERE message_id = $1`, "payment.failed:"+id))
	require.Equal(t, payment.Paid, f.get(t, id).Status)
}

// TestUntrustedFailureIsAppliedOnceDarajaAgrees: the same untrusted failure
// for a push the customer really cancelled is applied as soon as Daraja's
// STK Query reports the cancellation, with Daraja's result code.
func TestUntrustedFailureIsAppliedOnceDarajaAgrees(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 5*time.Second)
	f.drop.Store(true) // Daraja's own callback is lost
	id := f.create(t, mpesasim.PhoneCancelled, 100)
	require.NoError(t, f.push(t, id))
	require.Eventually(t, func() bool { return f.sim.Stats().CallbacksSent == 1 }, 10*time.Second, 10*time.Millisecond)
	f.drop.Store(false)
	f.untrusted.Store(true)
	f.serveTasks(t)
	p := f.get(t, id)
	f.post(t, mpesasim.CallbackBody("m-1", p.CheckoutRequestID, "1032", "Request cancelled by user", 0, "", "", time.Time{}))
	p = f.waitStatus(t, id, payment.Failed)
	require.Equal(t, "cancelled", p.FailureReason)
	require.Equal(t, "1032", p.ResultCode)
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM outbox WHERE message_id = $1`, "payment.failed:"+id))
	require.Eventually(t, func() bool {
		return f.count(t, `SELECT count(*) FROM inbox WHERE natural_key = $1 AND applied_at IS NULL`, p.CheckoutRequestID) == 0
	}, 10*time.Second, 20*time.Millisecond, "the waiting failure was applied (as a duplicate of Daraja's answer)")
}

// TestConfirmationBeyondItsTurnFreesItsGoroutine: a confirmation whose turn
// at the STK Push Query rate is more than a moment away does not park its
// worker goroutine (the critical queue's, which the STK pushes share); it
// returns a tasks.RetryAfter for that turn, without asking Daraja.
func TestConfirmationBeyondItsTurnFreesItsGoroutine(t *testing.T) {
	t.Parallel()
	f := newFlow(t, 5*time.Second)
	f.deps.QueryLimiter = rate.NewLimiter(rate.Every(10*time.Second), 1) // one query per 10 s
	id := f.create(t, mpesasim.PhoneSilent, 100)
	require.NoError(t, f.push(t, id))
	p := f.get(t, id)
	before := f.sim.Stats().Queries
	require.ErrorIs(t, payment.Confirm(context.Background(), f.deps.Deps, p.CheckoutRequestID), payment.ErrNotConfirmed,
		"the first takes the turn and asks")
	start := time.Now()
	err := payment.Confirm(context.Background(), f.deps.Deps, p.CheckoutRequestID)
	var ra *tasks.RetryAfter
	require.ErrorAs(t, err, &ra, "the second is told when its turn comes")
	require.ErrorIs(t, err, payment.ErrQueryRateBusy)
	require.Greater(t, ra.After, 5*time.Second)
	require.Less(t, time.Since(start), 5*time.Second, "returned instead of waiting for the turn")
	require.Equal(t, before+1, f.sim.Stats().Queries, "Daraja was asked once")
}
