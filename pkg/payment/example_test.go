package payment_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/rs/zerolog"

	"fundigo/pkg/config"
	"fundigo/pkg/inbox"
	"fundigo/pkg/payment"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks/taskstest"
)

// Create is what POST /v1/payments calls: it validates the request, stores
// the payment under the caller's id (a retry with the same id and request
// is the same payment) and queues its STK push.
func ExampleCreate() {
	storetest.Example("ExampleCreate", func(t testing.TB) {
		ctx := context.Background()
		d := payment.Deps{Log: zerolog.Nop(), Pool: storetest.NewPool(t), Tasks: taskstest.Client(t),
			Queues: taskstest.Queues(t), Config: config.Payments{MaxAmount: 250000}}
		amount := int64(1500)
		req := payment.CreateRequest{JobID: "job-42", CustomerID: "cust-7", Phone: "0712345678", Amount: &amount}
		for range 2 {
			p, err := payment.Create(ctx, d, "7d1f6c1e-4a8b-4c55-9a59-0a4f3c2b1d10", req)
			fmt.Println(p.Status, p.Amount, p.View().Phone, err)
		}
		pending, _ := taskstest.Inspector(t).ListPendingTasks(d.Queues.Critical)
		fmt.Println("queued:", len(pending), pending[0].Type)

		zero := int64(0)
		_, err := payment.Create(ctx, d, "7d1f6c1e-4a8b-4c55-9a59-0a4f3c2b1d11",
			payment.CreateRequest{JobID: "job-43", CustomerID: "cust-7", Phone: "12345", Amount: &zero})
		var invalid *payment.ValidationError
		if errors.As(err, &invalid) {
			for _, f := range invalid.Fields {
				fmt.Println("invalid:", f.Field)
			}
		}
	})
	// Output:
	// pending 1500 2547****5678 <nil>
	// pending 1500 2547****5678 <nil>
	// queued: 1 mpesa:stk_push
	// invalid: phone
	// invalid: amount
}

// Intake.Accept is what the STK webhook and the Celery
// process_payment_callback task both call: the callback is committed to the
// inbox (the applier applies it to its payment), a redelivery is a
// duplicate, and a body that is not a callback is quarantined and refused.
func ExampleIntake_Accept() {
	storetest.Example("ExampleIntake_Accept", func(t testing.TB) {
		ctx := context.Background()
		pool := storetest.NewPool(t)
		w, err := inbox.NewWriter(pool, inbox.WriterConfig{})
		if err != nil {
			fmt.Println(err)
			return
		}
		intake := &payment.Intake{Pool: pool, Writer: w, QuarantineCap: 100}
		cancelled := []byte(`{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1",` +
			`"CheckoutRequestID":"ws_CO_191220191020363925","ResultCode":1032,"ResultDesc":"Request cancelled by user"}}}`)
		for range 2 {
			res, err := intake.Accept(ctx, payment.Delivery{Body: cancelled, ContentType: "application/json", Origin: "webhook"})
			fmt.Println(res.CheckoutRequestID, res.ResultCode, res.Duplicate, err)
		}
		_, err = intake.Accept(ctx, payment.Delivery{Body: []byte(`{"Body":{}}`), ContentType: "application/json", Origin: "webhook"})
		var rejected *payment.RejectedError
		fmt.Println("rejected:", errors.As(err, &rejected), "quarantined:", rejected != nil && rejected.QuarantineErr == nil)
	})
	// Output:
	// ws_CO_191220191020363925 1032 false <nil>
	// ws_CO_191220191020363925 1032 true <nil>
	// rejected: true quarantined: true
}
