package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"fundigo/pkg/inbox"
	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/store"
)

// Callback outcomes recorded in payment_callbacks.outcome.
const (
	outcomePaid            = "paid"
	outcomeFailed          = "failed"
	outcomeNeedsReview     = "needs_review"
	outcomeDuplicate       = "duplicate"        // same result already applied
	outcomeReceiptRecorded = "receipt_recorded" // receipt added to a payment paid by query
	outcomeIgnored         = "ignored"          // a late failure after money moved, or a payment under review
	outcomeOrphan          = "orphan"
)

// applyNew applies a callback stored as inbox row inboxID, once: it claims
// the row first, so a redelivery finds it claimed and changes nothing.
// Callers run it in tx; it takes the CheckoutRequestID lock.
func applyNew(ctx context.Context, d Deps, tx pgx.Tx, log zerolog.Logger, inboxID int64, body []byte, receivedAt time.Time, cb *mpesa.STKCallback) (string, error) {
	ps := NewStore(tx)
	if err := ps.LockCheckout(ctx, cb.CheckoutRequestID); err != nil {
		return "", err
	}
	claimed, err := ps.ClaimCallback(ctx, inboxID, cb.CheckoutRequestID, cb.ResultCode)
	if err != nil {
		return "", err
	}
	if !claimed {
		return outcomeDuplicate, nil
	}
	p, err := findPayment(ctx, d, ps, cb)
	if errors.Is(err, store.ErrNotFound) {
		if err := ps.InsertOrphan(ctx, Orphan{InboxID: inboxID, CheckoutRequestID: cb.CheckoutRequestID,
			Body: body, ReceivedAt: receivedAt}); err != nil {
			return "", err
		}
		log.Warn().Msg("stk callback for unknown checkout request; kept as orphan")
		return outcomeOrphan, ps.SetCallbackOutcome(ctx, inboxID, "", outcomeOrphan)
	}
	if err != nil {
		return "", err
	}
	outcome, err := decide(ctx, d, tx, log, p, cb)
	if err != nil {
		return "", err
	}
	return outcome, ps.SetCallbackOutcome(ctx, inboxID, p.ID, outcome)
}

// applyOrphan applies an orphan whose payment just showed up. Its inbox row
// was claimed when it was filed; the caller holds the CheckoutRequestID lock.
func applyOrphan(ctx context.Context, d Deps, tx pgx.Tx, log zerolog.Logger, o Orphan, cb *mpesa.STKCallback) error {
	ps := NewStore(tx)
	p, err := ps.GetByCheckoutForUpdate(ctx, cb.CheckoutRequestID)
	if err != nil {
		return err
	}
	outcome, err := decide(ctx, d, tx, log, p, cb)
	if err != nil {
		return err
	}
	if err := ps.MatchOrphan(ctx, o.InboxID, p.ID, d.now()); err != nil {
		return err
	}
	log.Info().Str("outcome", outcome).Msg("orphan stk callback matched")
	return ps.SetCallbackOutcome(ctx, o.InboxID, p.ID, outcome)
}

// findPayment finds the payment of cb by CheckoutRequestID or, for a success
// callback, as the single ambiguous push (no CheckoutRequestID) with the same
// phone and amount; it then links the id to that payment.
func findPayment(ctx context.Context, d Deps, ps *Store, cb *mpesa.STKCallback) (Payment, error) {
	p, err := ps.GetByCheckoutForUpdate(ctx, cb.CheckoutRequestID)
	if !errors.Is(err, store.ErrNotFound) || !cb.Success() {
		return p, err
	}
	m := cb.Metadata
	if !m.AmountOK || m.Amount <= 0 || m.Amount%100 != 0 || !mpesa.ValidMSISDN(m.PhoneNumber) {
		return Payment{}, store.ErrNotFound
	}
	since := d.now().Add(-2 * d.Config.FinalDeadline)
	cands, err := ps.AmbiguousCandidates(ctx, m.PhoneNumber, m.Amount/100, since)
	if err != nil {
		return Payment{}, err
	}
	if len(cands) != 1 {
		return Payment{}, store.ErrNotFound
	}
	return ps.LinkCheckout(ctx, cands[0].ID, cb.CheckoutRequestID, cb.MerchantRequestID, d.now())
}

// decide applies cb to p (locked) with the rules of judge and returns the
// outcome; the single-row path (orphans, ambiguous matches, STK Query).
func decide(ctx context.Context, d Deps, tx pgx.Tx, log zerolog.Logger, p Payment, cb *mpesa.STKCallback) (string, error) {
	ps := NewStore(tx)
	log = log.With().Str(logging.FieldPaymentID, p.ID).Str(logging.FieldResultCode, cb.ResultCode).Logger()
	owner := ""
	if r := cb.Metadata.MpesaReceiptNumber; cb.Success() && r != "" {
		owners, err := ps.ReceiptOwners(ctx, []string{r})
		if err != nil {
			return "", err
		}
		owner = owners[r]
	}
	v := judge(p, cb, owner)
	v.o.At = d.now()
	if v.ledger != nil {
		if _, inserted, err := ps.RecordReceipt(ctx, *v.ledger); err != nil {
			return "", err
		} else if !inserted {
			return "", fmt.Errorf("receipt of payment %s recorded concurrently; retry", p.ID)
		}
	}
	if v.setReceipt {
		if err := ps.SetReceipt(ctx, p.ID, v.o.Receipt, v.o.At); err != nil {
			return "", err
		}
	}
	switch v.to {
	case Paid:
		return transition(ctx, d, tx, log, ps.MarkPaid, p.ID, v.o, v.outcome)
	case Failed:
		return transition(ctx, d, tx, log, ps.MarkFailed, p.ID, v.o, v.outcome)
	case NeedsReview:
		return transition(ctx, d, tx, log, ps.MarkNeedsReview, p.ID, v.o, v.outcome)
	}
	return v.outcome, nil
}

type markFunc func(ctx context.Context, id string, o Outcome) (Payment, error)

// transition runs a conditional transition and writes its event; a stale
// transition (someone got there first) is a duplicate.
func transition(ctx context.Context, d Deps, tx pgx.Tx, log zerolog.Logger, mark markFunc, id string, o Outcome, outcome string) (string, error) {
	p, err := mark(ctx, id, o)
	if errors.Is(err, store.ErrStaleTransition) {
		return outcomeDuplicate, nil
	}
	if err != nil {
		return "", err
	}
	ev := log.Info()
	if p.Status == NeedsReview {
		ev = log.Warn().Str("review_reason", o.Reason)
	}
	ev.Str("status", string(p.Status)).Str("failure_reason", p.FailureReason).Msg("payment " + string(p.Status))
	return outcome, emit(ctx, tx, p)
}

// ApplyInboxRow applies stored STK callback inboxID (idempotent: the row is
// claimed in payment_callbacks first). It wraps store.ErrNotFound when the
// row is gone and mpesa.ErrInvalidCallback when its body is not a callback;
// both are permanent.
func ApplyInboxRow(ctx context.Context, d Deps, inboxID int64) error {
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
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE inbox SET applied_at = now() WHERE id = $1 AND applied_at IS NULL`, row.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("apply stk callback %d: %w", row.ID, err)
	}
	log.Debug().Str("outcome", outcome).Msg("stk callback applied")
	return nil
}
