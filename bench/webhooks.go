package bench

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	kit "fundigo/pkg/bench"
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
	if b.flags.Baselines {
		if err := b.pgBaseline(ctx); err != nil {
			return err
		}
	}
	s, err := b.system(ctx, nil)
	if err != nil {
		return err
	}
	defer s.stop()
	token, err := b.webhookToken(s, "webhooks")
	if err != nil {
		return err
	}
	c := newClient(s, b.flags.Opts.Concurrency)
	defer c.close()
	path := "/v1/webhooks/mpesa/stk/" + token
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var seq atomic.Int64
	_, err = b.measure(ctx, "webhooks.stk_ack", "webhook", "baseline.pg_commit",
		&kit.Target{MinRate: 10000, MaxP99: 20 * time.Millisecond},
		func(ctx context.Context) error {
			id := "ws_CO_bench_" + run + "_" + strconv.FormatInt(seq.Add(1), 10)
			_, err := c.do(ctx, http.MethodPost, path, stkCallbackBody(id), http.StatusOK, nil)
			return err
		})
	return err
}
