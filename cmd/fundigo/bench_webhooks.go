package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"fundigo/pkg/bench"
)

// stkCallbackBody is a successful STK callback as Daraja sends it (about
// 400 bytes), with a unique CheckoutRequestID per delivery so every
// operation is a new inbox row, not a deduplicated redelivery.
func stkCallbackBody(checkoutID string) []byte {
	return []byte(`{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"` + checkoutID +
		`","ResultCode":0,"ResultDesc":"The service request is processed successfully.","CallbackMetadata":{"Item":[` +
		`{"Name":"Amount","Value":1500.00},{"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"},` +
		`{"Name":"TransactionDate","Value":20191219102115},{"Name":"PhoneNumber","Value":254708374149}]}}}}`)
}

// benchWebhooks measures the STK callback webhook: each operation POSTs a
// callback and waits for the 200, which the API only sends after the raw
// body was committed to the Postgres inbox (grouped commits). Compared with
// raw single-row commits at the same concurrency.
func benchWebhooks(ctx context.Context, b *benchRun) error {
	if b.flags.baselines {
		if err := b.pgBaseline(ctx); err != nil {
			return err
		}
	}
	s, err := b.system(ctx, nil)
	if err != nil {
		return err
	}
	defer s.stop()
	const route = "/v1/webhooks/mpesa/stk/:token"
	if !s.hasRoute(http.MethodPost, route) {
		return errors.New("webhooks scenario: POST " + route + " is not registered (payments domain missing from api/routes.go)")
	}
	token := b.flags.callbackToken
	if b.flags.target == "" {
		token = s.cfg.Payments.CallbackToken.Reveal()
	}
	if token == "" {
		return errors.New("webhooks scenario: --callback-token is required with --target (FUNDIGO_MPESA_CALLBACK_TOKEN of that system)")
	}
	c := newBenchClient(s, b.flags.opts.Concurrency)
	defer c.close()
	path := "/v1/webhooks/mpesa/stk/" + token
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var seq atomic.Int64
	_, err = b.measure(ctx, "webhooks.stk_ack", "webhook", "baseline.pg_commit",
		&bench.Target{MinRate: 10000, MaxP99: 20 * time.Millisecond},
		func(ctx context.Context) error {
			id := "ws_CO_bench_" + run + "_" + strconv.FormatInt(seq.Add(1), 10)
			_, err := c.do(ctx, http.MethodPost, path, stkCallbackBody(id), http.StatusOK, nil)
			return err
		})
	return err
}
