package payments

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"fundigo/pkg/events"
	"fundigo/pkg/outbox"
	"fundigo/pkg/store"
)

// routingKeyFor is the event of a final status, "" for the others.
func routingKeyFor(s store.PaymentStatus) string {
	switch s {
	case store.PaymentPaid:
		return events.RoutingKeyPaymentPaid
	case store.PaymentFailed:
		return events.RoutingKeyPaymentFailed
	case store.PaymentNeedsReview:
		return events.RoutingKeyPaymentNeedsReview
	}
	return ""
}

// emit writes the payment.* event of p's status in tx. The message id is
// deterministic (event + payment id), so each payment emits each event once.
func emit(ctx context.Context, tx pgx.Tx, exchange string, p store.Payment) error {
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
