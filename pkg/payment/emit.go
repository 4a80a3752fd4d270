package payment

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"fundigo/pkg/events"
	"fundigo/pkg/outbox"
)

// routingKeyFor is the event of a final status, "" for the others.
func routingKeyFor(s Status) string {
	switch s {
	case Paid:
		return events.RoutingKeyPaymentPaid
	case Failed:
		return events.RoutingKeyPaymentFailed
	case NeedsReview:
		return events.RoutingKeyPaymentNeedsReview
	}
	return ""
}

// emit writes the payment.* event of p's status in tx. The message id is
// deterministic (event + payment id), so each payment emits each event once.
func emit(ctx context.Context, tx pgx.Tx, exchange string, p Payment) error {
	rk := routingKeyFor(p.Status)
	if rk == "" {
		return nil
	}
	payload, err := json.Marshal(p.View())
	if err != nil {
		return fmt.Errorf("encode %s of payment %s: %w", rk, p.ID, err)
	}
	return outbox.Write(ctx, tx, outbox.Message{
		ID: events.PaymentMessageID(rk, p.ID), Exchange: exchange, RoutingKey: rk, Type: rk, Payload: payload,
	})
}
