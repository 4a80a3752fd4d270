package payout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/store"
)

// Submit sends payout id to Daraja, at most once ever. It first commits a
// claim (submit_started_at); only the caller that made the claim sends. Then:
//   - accepted: submitted, with Daraja's ConversationID;
//   - certainly not sent (mpesa.ErrNotSent, Daraja busy): the claim is
//     released and the error returned, so the task retries;
//   - refused by Daraja: failed (reason from the code, else other);
//   - Daraja already has this OriginatorConversationID, or the outcome is
//     unknown (timeout, lost answer): unknown, settled by Transaction Status.
//
// A payout found claimed with no answer recorded (a crash between claim and
// answer) is never sent again: it becomes unknown. Anything else already
// past pending is done: nil.
func Submit(ctx context.Context, d Deps, id string) error {
	ps := NewStore(d.Pool)
	p, err := ps.ClaimSubmit(ctx, id, d.now())
	if errors.Is(err, store.ErrStaleTransition) {
		return resumeClaimed(ctx, d, id)
	}
	if err != nil {
		return err
	}
	log := d.Log.With().Str(logging.FieldPayoutID, p.ID).Str(logging.FieldOriginatorConvID, p.OriginatorConversationID).Logger()
	ack, err := d.Daraja.B2C(ctx, d.Initiator, mpesa.B2CRequest{
		OriginatorConversationID: p.OriginatorConversationID, Amount: p.Amount, PartyB: p.Phone,
		Remarks: p.Remarks, Occasion: p.JobID, ResultURL: d.URLs.B2CResult, QueueTimeOutURL: d.URLs.B2CTimeout,
	})
	// Bookkeeping below must outlive a cancelled task: the request is out.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := d.now()
	var apiErr *mpesa.APIError
	switch {
	case err == nil:
		next := now.Add(d.Config.StatusAfter)
		p, err = transition(bctx, d, p.ID, Change{From: []Status{Pending}, To: Submitted, ConversationID: ack.ConversationID,
			SubmittedAt: &now, NextQueryAt: &next, At: now})
		if err == nil {
			log.Info().Str("conversation_id", ack.ConversationID).Msg("payout submitted")
		}
		return ignoreStale(err)
	case mpesa.Retryable(err):
		if rerr := ps.ReleaseSubmit(bctx, p.ID, now); rerr != nil {
			// The claim stays: never sent again, settled as unknown.
			return errors.Join(err, rerr)
		}
		log.Warn().Err(err).Msg("payout not sent; will retry")
		return err
	case errors.As(err, &apiErr) && apiErr.Code != mpesa.CodeDuplicateOriginator:
		reason := ReasonFor(apiErr.Code)
		_, terr := transition(bctx, d, p.ID, Change{From: []Status{Pending}, To: Failed, ResultCode: apiErr.Code,
			ResultDesc: apiErr.Message, FailureReason: string(reason), ClearNextQuery: true, At: now})
		log.Warn().Str(logging.FieldResultCode, apiErr.Code).Msg("payout refused by daraja")
		return ignoreStale(terr)
	default:
		log.Warn().Err(err).Msg("payout outcome unknown; settling by transaction status")
		return ignoreStale(markUnknown(bctx, d, p.ID, now))
	}
}

// resumeClaimed handles a submit of a payout that is not pending-unclaimed:
// claimed but unanswered means the request may be out, so unknown.
func resumeClaimed(ctx context.Context, d Deps, id string) error {
	p, err := NewStore(d.Pool).Get(ctx, id)
	if err != nil {
		return err
	}
	if p.Status != Pending || p.SubmitStartedAt == nil {
		return nil
	}
	d.Log.Warn().Str(logging.FieldPayoutID, id).Msg("payout claimed earlier without a recorded answer; never re-sent, settling by transaction status")
	return ignoreStale(markUnknown(ctx, d, id, d.now()))
}

// markUnknown moves a pending or submitted payout to unknown and asks
// Transaction Status at the next reconciliation.
func markUnknown(ctx context.Context, d Deps, id string, now time.Time) error {
	_, err := transition(ctx, d, id, Change{From: []Status{Pending, Submitted}, To: Unknown, NextQueryAt: &now, At: now})
	return err
}

// transition applies c in its own transaction with its event.
func transition(ctx context.Context, d Deps, id string, c Change) (Payout, error) {
	var p Payout
	err := store.WithTx(ctx, d.Pool, func(tx pgx.Tx) error {
		var err error
		if p, err = NewStore(tx).Transition(ctx, id, c); err != nil {
			return err
		}
		return emit(ctx, tx, p)
	})
	if err != nil {
		return Payout{}, fmt.Errorf("payout %s to %s: %w", id, c.To, err)
	}
	return p, nil
}

// ignoreStale treats a transition that lost a race (another path moved the
// payout first) as done.
func ignoreStale(err error) error {
	if errors.Is(err, store.ErrStaleTransition) {
		return nil
	}
	return err
}
