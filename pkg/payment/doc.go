// Package payment is the one home of M-Pesa STK payments: what a payment is
// (Payment, Status), how a request is checked (CreateRequest.Validate), the
// commands every entry point calls (Create, Push, Intake.Accept,
// ApplyInboxRow, Confirm, Reconcile) and their SQL (store*.go). The REST handlers,
// the worker handlers, the Celery task and the CLI are thin adapters.
//
// How a payment moves:
//
//	POST /v1/payments ─Create─▶ pending ─Push (Daraja STK)─▶ awaiting_callback
//	Daraja callback ─Intake.Accept─▶ inbox row ─apply─▶ paid | failed | needs_review
//	untrusted callback ─apply─▶ waits ─Confirm (STK Push Query, asked at once)─▶ paid | failed (a contradicted failure: refuted)
//	no callback ─Reconcile (STK Push Query, deadline)─▶ paid | failed
//
// Evidence before money: a callback makes a payment paid, or settles one
// that awaits its callback (failed, needs_review), only when its source is
// trusted (FUNDIGO_MPESA_ALLOWED_CIDRS) or Daraja's STK Push Query confirms
// its CheckoutRequestID; an ambiguous push is never linked to a callback on
// phone and amount alone (verdict.needsConfirmation, Confirm).
//
// Every effect is idempotent:
//   - a push is sent only from pending with no push started (BeginPush), and
//     a push whose outcome is unknown is never sent again: the payment waits
//     for its callback or its final deadline;
//   - a callback is applied once per inbox row (payment_callbacks), under an
//     advisory lock on its CheckoutRequestID, with conditional transitions;
//   - money is recorded once per M-Pesa receipt (ledger primary key);
//   - events are written to the outbox in the same transaction, with
//     deterministic message ids.
package payment
