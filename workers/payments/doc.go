// Package payments holds the payment workflow: sending STK Pushes (Asynq
// task mpesa:stk_push), applying stored STK callbacks (RabbitMQ consumer of
// mpesa.stk_callback.received) and reconciliation (Asynq task
// payments:reconcile).
//
// Every effect is idempotent:
//   - a push is sent only from pending with no push started (BeginPush), and
//     a push whose outcome is unknown is never sent again: the payment waits
//     for its callback or its final deadline;
//   - a callback is applied once per inbox row (ClaimCallback), under an
//     advisory lock on its CheckoutRequestID, with conditional transitions;
//   - money is recorded once per M-Pesa receipt (ledger primary key);
//   - events are written to the outbox in the same transaction, with
//     deterministic message ids.
package payments
