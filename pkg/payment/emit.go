package payment

import (
	"context"

	"github.com/jackc/pgx/v5"

	"fundigo/pkg/events"
	"fundigo/pkg/outbox"
)

// emit writes the payment.* event of p's status in tx (nothing for a status
// that is not announced). The message id is deterministic (event + payment
// id), so each payment emits each event once.
func emit(ctx context.Context, tx pgx.Tx, p Payment) error {
	return emitAll(ctx, tx, []Payment{p})
}

// emitAll writes the payment.* events of ps in one outbox insert.
func emitAll(ctx context.Context, tx pgx.Tx, ps []Payment) error {
	msgs, err := appendEvents(nil, ps...)
	if err != nil {
		return err
	}
	return outbox.WriteBatch(ctx, tx, msgs)
}

// appendEvents appends to msgs the outbox message of each payment's status
// event (events.Payment knows its routing key and message id), skipping the
// statuses that are not announced.
func appendEvents(msgs []outbox.Message, ps ...Payment) ([]outbox.Message, error) {
	for _, p := range ps {
		ev := p.View()
		if ev.RoutingKey() == "" {
			continue
		}
		m, err := outbox.EventMessage(ev)
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// emitAwaiting writes payment.awaiting_callback for each of ps (just moved
// from pending) in tx, in one outbox insert; message ids are deterministic.
func emitAwaiting(ctx context.Context, tx pgx.Tx, ps ...Payment) error {
	msgs := make([]outbox.Message, 0, len(ps))
	for _, p := range ps {
		m, err := outbox.EventMessage(events.PaymentAwaitingCallback{Payment: p.View()})
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	return outbox.WriteBatch(ctx, tx, msgs)
}
