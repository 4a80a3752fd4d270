package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"fundigo/pkg/inbox"
	"fundigo/pkg/store/storetest"
)

// A webhook handler answers 200 only after Write returned: the raw body is
// then committed (grouped with concurrent deliveries into one transaction),
// and a notice for the applier is in the outbox of the same transaction. A
// redelivery of the same body is a duplicate of the stored row.
func ExampleWriter_Write() {
	storetest.Example("ExampleWriter_Write", func(t testing.TB) {
		ctx := context.Background()
		pool := storetest.NewPool(t) // a migrated schema of its own, dropped afterwards
		w, err := inbox.NewWriter(pool, inbox.WriterConfig{})
		if err != nil {
			fmt.Println(err)
			return
		}
		var first int64
		for range 2 {
			res, err := w.Write(ctx, inbox.Entry{
				Route:      "mpesa.stk",
				Key:        "ws_CO_191220191020363925",
				Body:       []byte(`{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_191220191020363925","ResultCode":0}}}`),
				RoutingKey: "mpesa.stk_callback.received",
			})
			switch {
			case errors.Is(err, inbox.ErrRejected):
				fmt.Println("400: quarantine the body")
			case err != nil:
				fmt.Println("503: not stored, the caller may retry")
			case res.Duplicate:
				fmt.Println("200: already stored, same row:", res.ID == first)
			default:
				first = res.ID
				fmt.Println("200: stored")
			}
		}
		var notices int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE routing_key = 'mpesa.stk_callback.received'`).Scan(&notices)
		fmt.Println("notices in the outbox:", notices)
	})
	// Output:
	// 200: stored
	// 200: already stored, same row: true
	// notices in the outbox: 1
}
