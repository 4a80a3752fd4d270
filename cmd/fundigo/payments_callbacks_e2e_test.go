package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/mpesa/mpesasim"
)

const testdataCheckout = "ws_CO_191220191020363925"

// callbackCase is one row of the webhook table: what is posted, the HTTP
// answer, what is stored and the payment's final state.
type callbackCase struct {
	name     string
	bodies   []string // testdata files posted in order (the checkout id replaced)
	raw      []byte   // or a raw body
	ctype    string   // default application/json
	token    string   // default the right one
	xff      string   // X-Forwarded-For (the test process is a trusted proxy)
	noPay    bool     // no payment exists for the checkout id
	code     int      // HTTP answer of the last post
	inbox    int      // inbox rows for the checkout id
	quar     int      // quarantined bodies added
	status   string   // final payment status ("" = no payment)
	reason   string   // failure_reason
	ledger   int      // ledger rows of the payment
	orphaned bool
}

func TestSTKCallbackTable(t *testing.T) {
	t.Parallel()
	getenv, base := testEnv(t, map[string]string{
		"FUNDIGO_MPESA_CALLBACK_TOKEN":     e2eCallbackToken,
		"FUNDIGO_MPESA_SIM_CALLBACK_DELAY": "100ms",
		"FUNDIGO_MPESA_ALLOWED_CIDRS":      "127.0.0.1/32",
		"FUNDIGO_TRUSTED_PROXIES":          "127.0.0.1",
		// ~30 open payments for one customer and one silent phone: the
		// abuse limits (tested in api/) would refuse most of them.
		"FUNDIGO_THROTTLE_PAYMENT":       "0",
		"FUNDIGO_STK_MAX_OPEN_PER_PHONE": "0",
		"FUNDIGO_STK_MAX_PER_PHONE_HOUR": "0",
	})
	stop, logs := startAll(t, getenv, base)
	e := startPaymentsE2EOn(t, getenv, base, logs, stop)

	deep := []byte(`{"Body":{"stkCallback":{"CheckoutRequestID":"` + testdataCheckout + `","x":` +
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}}`)
	huge := append([]byte(`{"Body":{"stkCallback":{"CheckoutRequestID":"`+testdataCheckout+`","pad":"`),
		append(bytes.Repeat([]byte("a"), 1<<20), []byte(`"}}}`)...)...)
	cases := []callbackCase{
		{name: "success", bodies: []string{"success.json"}, code: 200, inbox: 1, status: "paid", ledger: 1},
		{name: "success balance without value", bodies: []string{"success_balance_novalue.json"}, code: 200, inbox: 1, status: "paid", ledger: 1},
		{name: "success balance with value", bodies: []string{"success_balance_value.json"}, code: 200, inbox: 1, status: "paid", ledger: 1},
		{name: "success reordered items", bodies: []string{"success_reordered.json"}, code: 200, inbox: 1, status: "paid", ledger: 1},
		{name: "success numbers as strings", bodies: []string{"success_strings.json"}, code: 200, inbox: 1, status: "paid", ledger: 1},
		{name: "cancelled 1032", bodies: []string{"failure_1032.json"}, code: 200, inbox: 1, status: "failed", reason: "cancelled"},
		{name: "timeout 1037", bodies: []string{"failure_1037.json"}, code: 200, inbox: 1, status: "failed", reason: "timeout"},
		{name: "insufficient funds 1", bodies: []string{"failure_1.json"}, code: 200, inbox: 1, status: "failed", reason: "insufficient_funds"},
		{name: "wrong pin 2001", bodies: []string{"failure_2001.json"}, code: 200, inbox: 1, status: "failed", reason: "wrong_pin"},
		{name: "expired 1019", bodies: []string{"failure_1019.json"}, code: 200, inbox: 1, status: "failed", reason: "expired"},
		{name: "string result code", bodies: []string{"failure_string_code.json"}, code: 200, inbox: 1, status: "failed", reason: "other"},
		{name: "identical redelivery", bodies: []string{"success.json", "success.json"}, code: 200, inbox: 1, status: "paid", ledger: 1},
		{name: "duplicate with other bytes", bodies: []string{"success.json", "success_reordered.json"}, code: 200, inbox: 2, status: "paid", ledger: 1},
		{name: "success after cancel", bodies: []string{"failure_1032.json", "success.json"}, code: 200, inbox: 2, status: "needs_review", reason: "cancelled", ledger: 1},
		{name: "cancel after success", bodies: []string{"success.json", "failure_1032.json"}, code: 200, inbox: 2, status: "paid", ledger: 1},
		{name: "amount mismatch", bodies: []string{"success_amount_mismatch.json"}, code: 200, inbox: 1, status: "needs_review", ledger: 1},
		{name: "negative amount", bodies: []string{"success_negative_amount.json"}, code: 200, inbox: 1, status: "needs_review", ledger: 1},
		{name: "phone mismatch", bodies: []string{"success_phone_mismatch.json"}, code: 200, inbox: 1, status: "needs_review", ledger: 1},
		{name: "unknown checkout id", bodies: []string{"success.json"}, noPay: true, code: 200, inbox: 1, orphaned: true},
		{name: "truncated json", bodies: []string{"truncated.bad.json"}, code: 400, quar: 1, status: "awaiting_callback"},
		{name: "missing Body", bodies: []string{"missing_body.bad.json"}, code: 400, quar: 1, status: "awaiting_callback"},
		{name: "missing CheckoutRequestID", bodies: []string{"missing_checkout.bad.json"}, code: 400, quar: 1, status: "awaiting_callback"},
		{name: "wrong media type", bodies: []string{"success.json"}, ctype: "text/plain", code: 415, status: "awaiting_callback"},
		{name: "1 MiB body", raw: huge, code: 413, status: "awaiting_callback"},
		{name: "20000-deep nesting", raw: deep, code: 400, quar: 1, status: "awaiting_callback"},
		{name: "wrong token", bodies: []string{"success.json"}, token: "not-the-token", code: 404, status: "awaiting_callback"},
		{name: "refused source", bodies: []string{"success.json"}, xff: "10.9.8.7", code: 403, status: "awaiting_callback"},
		{name: "allowed source via trusted proxy", bodies: []string{"success.json"}, xff: "127.0.0.1", code: 200, inbox: 1, status: "paid", ledger: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e.runCallbackCase(t, tc)
		})
	}
}

func (e *paymentsE2E) runCallbackCase(t *testing.T, tc callbackCase) {
	ctx := context.Background()
	checkout := "ws_CO_unknown_" + strings.ReplaceAll(tc.name, " ", "_")
	rb := make([]byte, 5)
	_, _ = rand.Read(rb)
	receiptPrefix := strings.ToUpper(hex.EncodeToString(rb))[:9]
	var id string
	if !tc.noPay {
		// The silent number: Daraja accepts it and never calls back, so only our posts count.
		id = e.createPayment(t, mpesasim.PhoneSilent, 1500)
		p := e.waitStatus(t, id, "awaiting_callback")
		checkout = p["checkout_request_id"].(string)
	}
	var quarBefore int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM inbox_quarantine`).Scan(&quarBefore))

	bodies := [][]byte{tc.raw}
	if tc.raw == nil {
		bodies = nil
		for _, f := range tc.bodies {
			b, err := os.ReadFile("../../pkg/mpesa/testdata/" + f)
			require.NoError(t, err)
			b = bytes.ReplaceAll(b, []byte(testdataCheckout), []byte(checkout))
			b = bytes.ReplaceAll(b, []byte("254708374149"), []byte(mpesasim.PhoneSilent))
			// Receipts are unique in the ledger: give each case its own.
			b = bytes.ReplaceAll(b, []byte("NLJ7RT61S"), []byte(receiptPrefix))
			bodies = append(bodies, b)
		}
	} else {
		bodies[0] = bytes.ReplaceAll(tc.raw, []byte(testdataCheckout), []byte(checkout))
	}
	token := e2eCallbackToken
	if tc.token != "" {
		token = tc.token
	}
	var code int
	for _, b := range bodies {
		req, err := http.NewRequest(http.MethodPost, e.base+"/v1/webhooks/mpesa/stk/"+token, bytes.NewReader(b))
		require.NoError(t, err)
		ct := tc.ctype
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
		if tc.xff != "" {
			req.Header.Set("X-Forwarded-For", tc.xff)
		}
		resp, err := e.http.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		code = resp.StatusCode
		if len(tc.bodies) > 1 && code == 200 {
			// Let the worker apply each before the next (order matters for the rule).
			require.Eventually(t, func() bool {
				var applied, stored int
				_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM payment_callbacks WHERE checkout_request_id = $1`, checkout).Scan(&applied)
				_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM inbox WHERE natural_key = $1`, checkout).Scan(&stored)
				return applied == stored
			}, 20*time.Second, 20*time.Millisecond)
		}
	}
	require.Equal(t, tc.code, code)

	var inboxRows, quarAfter int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM inbox WHERE natural_key = $1`, checkout).Scan(&inboxRows))
	require.Equal(t, tc.inbox, inboxRows, "inbox rows")
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM inbox_quarantine`).Scan(&quarAfter))
	if tc.quar > 0 {
		require.GreaterOrEqual(t, quarAfter-quarBefore, tc.quar, "quarantined")
	}
	if tc.orphaned {
		require.Eventually(t, func() bool {
			var n int
			_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM payment_orphans WHERE checkout_request_id = $1`, checkout).Scan(&n)
			return n == 1
		}, 20*time.Second, 20*time.Millisecond)
		return
	}
	var p map[string]any
	if tc.status == "awaiting_callback" {
		// Nothing was stored, so nothing can change it; confirm it did not.
		_, p = e.call(t, http.MethodGet, "/v1/payments/"+id, nil, nil)
		require.Equal(t, "awaiting_callback", p["status"])
	} else {
		e.waitStatus(t, id, tc.status)
		require.Eventually(t, func() bool {
			var applied int
			_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM payment_callbacks WHERE checkout_request_id = $1`, checkout).Scan(&applied)
			return applied == tc.inbox
		}, 20*time.Second, 20*time.Millisecond, "every stored callback applied")
		_, p = e.call(t, http.MethodGet, "/v1/payments/"+id, nil, nil)
		require.Equal(t, tc.status, p["status"], "final status")
	}
	if tc.reason != "" {
		require.Equal(t, tc.reason, p["failure_reason"])
	}
	var ledger int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM payment_ledger WHERE payment_id = $1`, id).Scan(&ledger))
	require.Equal(t, tc.ledger, ledger, "ledger rows")
}
