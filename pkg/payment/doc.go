// Package payment is the one home of M-Pesa STK payments: what a payment is
// (Payment, Status), how a request is checked (CreateRequest.Validate), the
// commands every entry point calls (Create, Push, Intake.Accept,
// ApplyInboxRow, Reconcile) and their SQL (store*.go). The REST handlers,
// the worker handlers, the Celery task and the CLI are thin adapters.
//
// How a payment moves:
//
//	POST /v1/payments ─Create─▶ pending ─Push (Daraja STK)─▶ awaiting_callback
//	Daraja callback ─Intake.Accept─▶ inbox row ─apply─▶ paid | failed | needs_review
//	no callback ─Reconcile (STK Push Query, deadline)─▶ paid | failed
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
