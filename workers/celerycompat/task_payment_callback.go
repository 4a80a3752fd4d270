package celerycompat

import (
	"context"
	"encoding/json"
	"fmt"

	"fundigo/pkg/celery"
	"fundigo/pkg/events"
	"fundigo/pkg/inbox"
	"fundigo/pkg/mpesa"
)

const stkRoute = mpesa.InboxRouteSTK

// processPaymentCallback is process_payment_callback(callback_data): the
// Daraja STK callback (the dict Django parsed, or its JSON text) goes into
// the same inbox as the webhook, whose notice makes the payments worker
// apply it with the same idempotency (CheckoutRequestID, receipt ledger). A
// body that is not an STK callback is quarantined, as the webhook does, and
// fails with ValueError. Returns {"inbox_id", "checkout_request_id"}.
func processPaymentCallback(d HandlerDeps) HandlerFunc {
	return func(ctx context.Context, m *celery.Message) (any, error) {
		if err := signature(m, "callback_data"); err != nil {
			return nil, err
		}
		body, err := callbackBody(m)
		if err != nil {
			return nil, err
		}
		cb, err := mpesa.ParseCallback(body)
		if err != nil {
			if qerr := inbox.Quarantine(ctx, d.Pool, d.QuarantineCap, stkRoute, "unparseable stk callback (celery "+m.ID+")",
				"application/json", body); qerr != nil {
				return nil, fmt.Errorf("quarantine callback of celery task %s: %w", m.ID, qerr)
			}
			return nil, celery.ValueError("callback_data is not an STK callback: Body.stkCallback.CheckoutRequestID and ResultCode are required")
		}
		res, err := d.Inbox.Write(ctx, inbox.Entry{Route: stkRoute, Key: cb.CheckoutRequestID, Body: body,
			RoutingKey: events.RoutingKeySTKCallbackReceived})
		if err != nil {
			return nil, fmt.Errorf("store callback of celery task %s: %w", m.ID, err)
		}
		return map[string]any{"inbox_id": res.ID, "checkout_request_id": cb.CheckoutRequestID}, nil
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
