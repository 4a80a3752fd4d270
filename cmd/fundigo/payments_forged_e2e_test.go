package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/mpesa/mpesasim"
)

// TestForgedSuccessCallbackEndToEnd is issue #12 row 1 through `fundigo
// all` in its development configuration (in-process simulator, no source
// allowlist, which used to believe every sender) with reconciliation's
// STK Query an hour away:
//   - the simulator's own success (an untrusted source too) is paid within
//     seconds, because the applier asks Daraja at once, with its receipt;
//   - a forged success (right path token, the payment's real
//     CheckoutRequestID, amount and phone, a receipt in Daraja's format) for
//     a push the simulator never completed is answered 200 and stored, but
//     never makes the payment paid.
//
// The same callback from an allowed source is paid at once: TestSTKCallbackTable
// "allowed source via trusted proxy".
func TestForgedSuccessCallbackEndToEnd(t *testing.T) {
	t.Parallel()
	getenv, base := testEnv(t, map[string]string{
		"FUNDIGO_MPESA_CALLBACK_TOKEN":     e2eCallbackToken,
		"FUNDIGO_MPESA_SIM_CALLBACK_DELAY": "300ms",
		"FUNDIGO_PAYMENTS_QUERY_AFTER":     "1h",
		"FUNDIGO_PAYMENTS_FINAL_DEADLINE":  "2h",
	})
	stop, logs := startAll(t, getenv, base)
	e := startPaymentsE2EOn(t, getenv, base, logs, stop)
	ctx := context.Background()

	genuine := e.createPayment(t, mpesasim.PhoneSuccess, 1500)
	p := e.waitStatus(t, genuine, "paid")
	require.NotEmpty(t, p["mpesa_receipt"])
	require.Equal(t, p["mpesa_receipt"], e.publishedEvent(t, "payment.paid", genuine)["mpesa_receipt"])

	forged := e.createPayment(t, mpesasim.PhoneSilent, 30)
	p = e.waitStatus(t, forged, "awaiting_callback")
	checkout := p["checkout_request_id"].(string)
	body := mpesasim.CallbackBody("m-1", checkout, "0", "The service request is processed successfully.",
		30, "FAKE000001", mpesasim.PhoneSilent, time.Now())
	code, ack := e.call(t, http.MethodPost, "/v1/webhooks/daraja/stk/"+e2eCallbackToken, body, nil)
	require.Equal(t, http.StatusOK, code, "stored as evidence: Daraja does not retry")
	require.Equal(t, map[string]any{"ResultCode": float64(0), "ResultDesc": "Accepted"}, ack)
	require.Eventually(t, func() bool {
		var asked bool
		_ = e.pool.QueryRow(ctx, `SELECT last_queried_at IS NOT NULL FROM payments WHERE checkout_request_id = $1`, checkout).Scan(&asked)
		return asked
	}, 30*time.Second, 50*time.Millisecond, "Daraja was asked about the push at once")
	_, p = e.call(t, http.MethodGet, "/v1/payments/"+forged, nil, nil)
	require.Equal(t, "awaiting_callback", p["status"], "a forged success never produces paid")
	require.Nil(t, p["mpesa_receipt"])
	var ledger, waiting int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM payment_ledger WHERE checkout_request_id = $1`, checkout).Scan(&ledger))
	require.Zero(t, ledger)
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM inbox WHERE natural_key = $1 AND applied_at IS NULL`, checkout).Scan(&waiting))
	require.Equal(t, 1, waiting, "the callback waits, unapplied, as evidence")
}
