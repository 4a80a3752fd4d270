package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

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
	// outcomeRefuted: a failure from an untrusted source for a push Daraja's
	// STK Query reported paid; recorded, changes nothing.
	outcomeRefuted = "refuted"
	// outcomeUnconfirmed is never stored: the callback was left unapplied
	// until Daraja confirms the payment (Confirm).
	outcomeUnconfirmed = "unconfirmed"
)

// applyNew files a callback whose CheckoutRequestID matches no payment (the
// caller looked it up under the CheckoutRequestID lock, in tx) as an orphan,
// once: it claims the row first, so a redelivery finds it claimed and changes
// nothing. The orphan is applied when its payment shows up (recordAcceptedIn).
// A success that matches an ambiguous push (no CheckoutRequestID) by phone
// and amount is not linked on that alone: it waits as an orphan while
// Daraja is asked about its CheckoutRequestID (Confirm links and applies it
// once Daraja confirms the push succeeded).
func applyNew(ctx context.Context, d Deps, tx pgx.Tx, log zerolog.Logger, inboxID int64, body []byte, receivedAt time.Time, cb *mpesa.STKCallback) (string, error) {
	ps := NewStore(tx)
	claimed, err := ps.ClaimCallback(ctx, inboxID, cb.CheckoutRequestID, cb.ResultCode)
	if err != nil {
		return "", err
	}
	if !claimed {
		return outcomeDuplicate, nil
	}
	if err := ps.InsertOrphan(ctx, Orphan{InboxID: inboxID, CheckoutRequestID: cb.CheckoutRequestID,
		Body: body, ReceivedAt: receivedAt}); err != nil {
		return "", err
	}
	cands, err := ambiguousCandidates(ctx, d, ps, cb)
	if err != nil {
		return "", err
	}
	if len(cands) == 1 {
		log.Warn().Str(logging.FieldPaymentID, cands[0].ID).
			Msg("stk success matches an ambiguous push by phone and amount; kept as orphan until Daraja confirms it")
		requestConfirmation(ctx, d, log, []string{cb.CheckoutRequestID})
	} else {
		log.Warn().Msg("stk callback for unknown checkout request; kept as orphan")
	}
	return outcomeOrphan, ps.SetCallbackOutcome(ctx, inboxID, "", outcomeOrphan)
}

// applyOrphan applies an orphan whose payment just got its
// CheckoutRequestID. Its inbox row was claimed when it was filed; the caller
// holds the CheckoutRequestID lock. A callback that needs Daraja's word (see
// decide) stays open: Daraja is asked, and Confirm applies it with Daraja's
// answer.
func applyOrphan(ctx context.Context, d Deps, tx pgx.Tx, log zerolog.Logger, o Orphan, cb *mpesa.STKCallback, ev evidence) error {
	ps := NewStore(tx)
	p, err := ps.GetByCheckoutForUpdate(ctx, cb.CheckoutRequestID)
	if err != nil {
		return err
	}
	outcome, err := decide(ctx, d, tx, log, p, cb, ev)
	if err != nil {
		return err
	}
	if outcome == outcomeUnconfirmed {
		log.Info().Int64("inbox_id", o.InboxID).Msg("orphan stk callback from an untrusted source waits for Daraja's confirmation")
		requestConfirmation(ctx, d, log, []string{cb.CheckoutRequestID})
		return nil
	}
	if err := ps.MatchOrphan(ctx, o.InboxID, p.ID, d.now()); err != nil {
		return err
	}
	log.Info().Str("outcome", outcome).Msg("orphan stk callback matched")
	return ps.SetCallbackOutcome(ctx, o.InboxID, p.ID, outcome)
}

// ambiguousCandidates returns, for a success callback, the ambiguous pushes
// (no CheckoutRequestID) with its phone and amount, locked; none for
// anything else.
func ambiguousCandidates(ctx context.Context, d Deps, ps *Store, cb *mpesa.STKCallback) ([]Payment, error) {
	m := cb.Metadata
	if !cb.Success() || !m.AmountOK || m.Amount <= 0 || m.Amount%100 != 0 || !mpesa.ValidMSISDN(m.PhoneNumber) {
		return nil, nil
	}
	return ps.AmbiguousCandidates(ctx, m.PhoneNumber, m.Amount/100, d.now().Add(-2*d.Config.FinalDeadline))
}

// decide applies cb to p (locked) with the rules of judge and returns the
// outcome; the single-row path (orphans, confirmations). A callback Daraja
// refutes (evidence.refutes) changes nothing and returns outcomeRefuted; a
// verdict that needs Daraja's confirmation (verdict.needsConfirmation)
// changes nothing and returns outcomeUnconfirmed.
func decide(ctx context.Context, d Deps, tx pgx.Tx, log zerolog.Logger, p Payment, cb *mpesa.STKCallback, ev evidence) (string, error) {
	ps := NewStore(tx)
	log = log.With().Str(logging.FieldPaymentID, p.ID).Str(logging.FieldResultCode, cb.ResultCode).Logger()
	if ev.refutes(cb) {
		log.Warn().Msg("stk failure callback from an untrusted source contradicts Daraja's query; recorded, not applied")
		return outcomeRefuted, nil
	}
	owner := ""
	if r := cb.Metadata.MpesaReceiptNumber; cb.Success() && r != "" {
		owners, err := ps.ReceiptOwners(ctx, []string{r})
		if err != nil {
			return "", err
		}
		owner = owners[r]
	}
	v := judge(p, cb, owner)
	if v.needsConfirmation(p.Status, ev.vouches(cb)) {
		return outcomeUnconfirmed, nil
	}
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

// ApplyInboxRow applies stored STK callback inboxID exactly as the applier
// does (same claim, same rules: a success from an untrusted source waits for
// Daraja's confirmation, an unreadable body is marked stuck). It is
// idempotent: an applied, stuck or vanished row changes nothing, and a row
// locked by a running batch is left to it.
func ApplyInboxRow(ctx context.Context, d Deps, inboxID int64) error {
	err := store.WithTx(ctx, d.Pool, func(tx pgx.Tx) error {
		rows, err := claimIDs(ctx, tx, []int64{inboxID})
		if err != nil || len(rows) == 0 {
			return err
		}
		return applyClaimed(ctx, d, tx, rows)
	})
	if err != nil {
		return fmt.Errorf("apply stk callback %d: %w", inboxID, err)
	}
	return nil
}
