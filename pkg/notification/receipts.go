package notification

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"fundigo/pkg/expo"
	"fundigo/pkg/logging"
	"fundigo/pkg/store"
)

const (
	// receiptBatch is the most ids Expo takes per getReceipts request.
	receiptBatch = expo.MaxReceiptIDsPerRequest
	// receiptsExpire: Expo clears receipts after a day; a ticket still
	// without one then will never get one.
	receiptsExpire = 24 * time.Hour
	// maxReceiptBatches bounds one run (200,000 receipts); the rest waits for
	// the next run.
	maxReceiptBatches = 200
)

// CheckReceipts is push:receipts, run every few minutes: it settles due
// receipts, fails deliveries left mid-send by a dead worker, and queues
// sends that have no task left. Each step is idempotent, so overlapping or
// repeated runs are harmless.
func (p *Pipeline) CheckReceipts(ctx context.Context) error {
	start := p.cfg.NowFunc()
	checked, err := p.checkReceipts(ctx, start)
	if err != nil {
		return err
	}
	stale, err := p.failStale(ctx, start)
	if err != nil {
		return err
	}
	due, err := p.resumeStalled(ctx, start)
	if err != nil {
		return err
	}
	forgotten, err := p.completeForgotten(ctx, start)
	if err != nil {
		return err
	}
	p.logger(ctx).Debug().Int("receipts", checked).Int("stale", stale).Int("resumed", due).
		Int("completed", forgotten).Msg("push receipts run")
	return nil
}

// checkReceipts fetches receipts for tickets older than the receipt delay,
// 1000 at a time, until none is due or the run's budget is spent.
func (p *Pipeline) checkReceipts(ctx context.Context, start time.Time) (int, error) {
	deliveries := p.store
	total := 0
	for range maxReceiptBatches {
		if ctx.Err() != nil {
			return total, nil // the next run continues
		}
		batch, err := deliveries.DueForReceipts(ctx, start.Add(-p.cfg.ReceiptDelay), start, receiptBatch)
		if err != nil {
			return total, err
		}
		if len(batch) == 0 {
			return total, nil
		}
		ids := make([]string, len(batch))
		for i, c := range batch {
			ids[i] = c.TicketID
		}
		receipts, err := p.cfg.Expo.GetReceipts(ctx, ids)
		if err != nil {
			return total, fmt.Errorf("get %d receipts: %w", len(ids), err)
		}
		if err := p.settleReceipts(ctx, batch, receipts); err != nil {
			return total, err
		}
		total += len(batch)
		if len(batch) < receiptBatch {
			return total, nil
		}
	}
	return total, nil
}

func (p *Pipeline) settleReceipts(ctx context.Context, batch []ReceiptCheck, receipts map[string]expo.Receipt) error {
	now := p.cfg.NowFunc()
	s := &settlement{}
	var unchecked []int64
	for _, c := range batch {
		r, ok := receipts[c.TicketID]
		if !ok {
			if now.Sub(c.SentAt) > receiptsExpire {
				s.add(Outcome{ID: c.ID, Status: DeliveryFailed, Error: errReceiptMissing}, c.DeviceToken)
			} else {
				unchecked = append(unchecked, c.ID)
			}
			continue
		}
		err := r.Err()
		var me *expo.MessageError
		switch {
		case err == nil:
			s.add(Outcome{ID: c.ID, Status: DeliveryDelivered}, c.DeviceToken)
		case errors.Is(err, expo.ErrDeviceNotRegistered):
			s.add(Outcome{ID: c.ID, Status: DeliveryInvalid, Error: expo.CodeDeviceNotRegistered}, c.DeviceToken)
		case errors.As(err, &me) && me.Code != "":
			if errors.Is(err, expo.ErrInvalidCredentials) {
				p.logger(ctx).Error().Str("error_code", me.Code).Msg("push credentials rejected; an operator must fix them")
			}
			s.add(Outcome{ID: c.ID, Status: DeliveryFailed, Error: me.Code}, c.DeviceToken)
		default:
			s.add(Outcome{ID: c.ID, Status: DeliveryFailed, Error: "receipt_error"}, c.DeviceToken)
		}
	}
	err := store.WithTx(ctx, p.cfg.Pool, func(tx pgx.Tx) error {
		d := NewStore(tx)
		if err := d.SettleReceipts(ctx, s.outcomes, now); err != nil {
			return err
		}
		if err := d.MarkReceiptChecked(ctx, unchecked, now); err != nil {
			return err
		}
		return s.deactivateDevices(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("settle receipts: %w", err)
	}
	return nil
}

// failStale fails deliveries whose worker died between claim and settle.
// Their messages may have reached the provider, so they are not resent.
func (p *Pipeline) failStale(ctx context.Context, start time.Time) (int, error) {
	ids, err := p.store.FailStale(ctx, start.Add(-p.cfg.StaleClaim), errOutcomeUnknown)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		p.logger(ctx).Warn().Str(logging.FieldNotificationID, id).Msg("deliveries left mid-send failed as outcome unknown")
		if _, err := p.store.CompleteIfSettled(ctx, id, start); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// completeForgotten completes the notifications left "sending" although
// nothing of theirs is left to send (their completion was lost), once they
// have been fanned out for a stale-claim period. Without it they stayed
// "sending" for ever, and GET /v1/notifications/{id} never said done.
func (p *Pipeline) completeForgotten(ctx context.Context, start time.Time) (int, error) {
	total := 0
	for range maxReceiptBatches {
		ids, err := p.store.CompleteForgotten(ctx, start.Add(-p.cfg.StaleClaim), start, receiptBatch)
		if err != nil {
			return total, err
		}
		total += len(ids)
		if len(ids) > 0 {
			p.logger(ctx).Warn().Int("count", len(ids)).Strs("notification_ids", ids[:min(len(ids), 20)]).
				Msg("notifications with every delivery settled were still sending; completed")
		}
		if len(ids) < receiptBatch {
			return total, nil
		}
	}
	return total, nil
}

// resumeStalled queues sends for deferred deliveries whose quiet window has
// ended and for pending ones nobody tried for a stale-claim period. Their
// own tasks normally do this; this catches tasks lost with Redis data, tasks
// that ran out of retries while the provider was down, and clocks that
// disagree. Extra tasks are harmless: rows are claimed once.
func (p *Pipeline) resumeStalled(ctx context.Context, start time.Time) (int, error) {
	deliveries := p.store
	ids, err := deliveries.Stalled(ctx, start, start.Add(-p.cfg.StaleClaim), 1000)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		n, err := deliveries.PendingCount(ctx, id, start)
		if err != nil {
			return 0, err
		}
		// Ids carry this run's time, so they never collide with a finished
		// or archived task of the same slot.
		if err := p.enqueue(ctx, id, n, start.Truncate(time.Second)); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}
