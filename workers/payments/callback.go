package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/inbox"
	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/store"
)

// handleCallbackNotice applies one stored STK callback announced by the
// inbox relay. Redeliveries are harmless (applyNew claims the inbox row).
// A notice that can never be applied (bad JSON, row gone, body not a
// callback) is dead-lettered for an operator.
func handleCallbackNotice(d Deps) amqpx.HandlerFunc {
	return func(ctx context.Context, m amqp.Delivery) error {
		var n inbox.Notice
		if err := json.Unmarshal(m.Body, &n); err != nil || n.InboxID == 0 {
			return amqpx.Permanent(fmt.Errorf("decode stk callback notice: %v", err))
		}
		err := applyInboxRow(ctx, d, n.InboxID)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, mpesa.ErrInvalidCallback) {
			return amqpx.Permanent(err)
		}
		return err
	}
}

// applyInboxRow applies stored callback inboxID (idempotent). It is called
// for each notice and by reconciliation for rows whose notice never came.
func applyInboxRow(ctx context.Context, d Deps, inboxID int64) error {
	row, err := inbox.Get(ctx, d.Pool, inboxID)
	if err != nil {
		return err
	}
	cb, err := mpesa.ParseCallback(row.Body)
	if err != nil {
		return fmt.Errorf("parse inbox row %d: %w", row.ID, err)
	}
	log := d.Log.With().Int64("inbox_id", row.ID).Str(logging.FieldCheckoutRequestID, cb.CheckoutRequestID).Logger()
	var outcome string
	err = store.WithTx(ctx, d.Pool, func(tx pgx.Tx) error {
		var err error
		outcome, err = applyNew(ctx, d, tx, log, row.ID, row.Body, row.ReceivedAt, cb)
		return err
	})
	if err != nil {
		return fmt.Errorf("apply stk callback %d: %w", row.ID, err)
	}
	log.Debug().Str("outcome", outcome).Msg("stk callback applied")
	return nil
}
