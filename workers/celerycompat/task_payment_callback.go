package celerycompat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"fundigo/pkg/celery"
	"fundigo/pkg/payment"
)

// processPaymentCallback is process_payment_callback(callback_data): the
// Daraja STK callback (the dict Django parsed, or its JSON text) is accepted
// by payment.Intake exactly as the webhook accepts it (same inbox, same
// quarantine) and applied by the payments applier with the same idempotency
// (CheckoutRequestID, receipt ledger). A body that is not an STK callback
// fails with ValueError. Returns {"inbox_id", "checkout_request_id"}.
func processPaymentCallback(d HandlerDeps) HandlerFunc {
	intake := &payment.Intake{Pool: d.Pool, Writer: d.Inbox, QuarantineCap: d.QuarantineCap}
	return func(ctx context.Context, m *celery.Message) (any, error) {
		if err := signature(m, "callback_data"); err != nil {
			return nil, err
		}
		body, err := callbackBody(m)
		if err != nil {
			return nil, err
		}
		res, err := intake.Accept(ctx, payment.Delivery{Body: body, ContentType: "application/json", Origin: "celery " + m.ID})
		var rejected *payment.RejectedError
		switch {
		case errors.As(err, &rejected) && rejected.QuarantineErr != nil:
			return nil, fmt.Errorf("quarantine callback of celery task %s: %w", m.ID, rejected.QuarantineErr)
		case errors.As(err, &rejected):
			return nil, celery.ValueError("callback_data is not an STK callback: " + rejected.Detail())
		case err != nil:
			return nil, fmt.Errorf("store callback of celery task %s: %w", m.ID, err)
		}
		return map[string]any{"inbox_id": res.InboxID, "checkout_request_id": res.CheckoutRequestID}, nil
	}
}

// callbackBody returns the callback as JSON bytes: a str argument is taken
// as the raw body; a dict is re-encoded (kombu wrappers unwrapped).
func callbackBody(m *celery.Message) ([]byte, error) {
	var v any
	if err := arg(m, 0, "callback_data", &v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case string:
		return []byte(x), nil
	case map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("encode callback_data: %w", err)
		}
		return b, nil
	default:
		return nil, celery.TypeError("argument 'callback_data' must be a dict or a str")
	}
}
