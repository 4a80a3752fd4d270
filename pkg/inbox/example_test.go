package inbox_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"fundigo/pkg/inbox"
)

// A webhook handler answers 200 only after Write returned: the raw body is
// then committed (grouped with concurrent deliveries into one transaction),
// and a notice for the applier is in the outbox of the same transaction.
func ExampleWriter_Write() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:5432/test")
	if err != nil {
		return
	}
	defer pool.Close()
	w, err := inbox.NewWriter(pool, inbox.WriterConfig{})
	if err != nil {
		return
	}
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
		fmt.Println("200: already stored as row", res.ID)
	default:
		fmt.Println("200: stored as row", res.ID)
	}
}
