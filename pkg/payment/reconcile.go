package payment

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// reconcileBatch bounds the payments handled per run and step; the next
// run (a minute later) continues.
const reconcileBatch = 200

// Reconcile brings every payment to a final state even when its
// callback never comes:
//  0. every payment past its deadline — pending past
//     Reconcile.PendingDeadline, awaiting_callback past FinalDeadline — fails
//     as expired, set-based (reconcile_overdue.go);
//  1. pending past RedriveAfter: enqueue its push task again (task id =
//     payment id, so a live task is not duplicated; an archived one is
//     replaced);
//  2. awaiting_callback past QueryAfter: STK Push Query, concurrently in a
//     bounded pool at most Reconcile.QueryRate per second, page after page
//     while the backlog lasts within Reconcile.RunBudget
//     (reconcile_query.go); a final answer is applied like a callback (paid
//     has no receipt until a callback brings it);
//  3. stored callbacks never applied (their notice was lost, e.g. published
//     before the consumer's queue existed) past QueryAfter: applied now;
//  4. orphan callbacks unmatched past OrphanReportAfter: reported (logged at
//     Error level, once).
//
// Errors for one payment do not stop the others; the run fails only if a
// whole step could not run.
func Reconcile(ctx context.Context, d Deps) error {
	log := d.Log.With().Str(logging.FieldTaskType, tasks.TypePaymentsReconcile).Logger()
	var errs []error
	errs = append(errs, expireOverdue(ctx, d, log))
	errs = append(errs, redrivePending(ctx, d, log))
	errs = append(errs, queryAwaiting(ctx, d, log))
	errs = append(errs, applyForgotten(ctx, d, log))
	errs = append(errs, reportOrphans(ctx, d, log))
	return errors.Join(errs...)
}

func reconcileOne(ctx context.Context, d Deps, log zerolog.Logger, p Payment) error {
	now := d.now()
	pastDeadline := p.PushedAt != nil && now.Sub(*p.PushedAt) >= d.Config.FinalDeadline
	if p.CheckoutRequestID == "" { // ambiguous push: nothing to query with
		if pastDeadline {
			return expire(ctx, d, log, p, "no callback for an ambiguous push by the final deadline")
		}
		return NewStore(d.Pool).TouchQueried(ctx, p.ID, now)
	}
	q, qerr := d.STK.STKQuery(ctx, p.CheckoutRequestID)
	if qerr == nil && !q.Pending {
		return applyQuery(ctx, d, log, p, q)
	}
	if qerr != nil {
		log.Warn().Err(qerr).Msg("stk query failed")
	}
	if pastDeadline {
		return expire(ctx, d, log, p, "no answer by the final deadline")
	}
	return NewStore(d.Pool).TouchQueried(ctx, p.ID, now)
}

// applyQuery applies a final STK Query answer under the CheckoutRequestID
// lock, exactly as a callback would move an awaiting payment, together with
// the callbacks that waited for Daraja's word (settle, as Confirm does).
func applyQuery(ctx context.Context, d Deps, log zerolog.Logger, p Payment, q mpesa.QueryResult) error {
	return settle(ctx, d, log, p.CheckoutRequestID, &q)
}

func expire(ctx context.Context, d Deps, log zerolog.Logger, p Payment, why string) error {
	return store.WithTx(ctx, d.Pool, func(tx pgx.Tx) error {
		ps := NewStore(tx)
		if p.CheckoutRequestID != "" {
			if err := ps.LockCheckout(ctx, p.CheckoutRequestID); err != nil {
				return err
			}
		}
		_, err := transition(ctx, d, tx, log, ps.MarkFailed, p.ID, Outcome{
			Reason: string(mpesa.ReasonExpired), ResultDesc: why, At: d.now()}, outcomeFailed)
		return err
	})
}

func reportOrphans(ctx context.Context, d Deps, log zerolog.Logger) error {
	ps := NewStore(d.Pool)
	orphans, err := ps.UnreportedOrphans(ctx, d.now().Add(-d.Config.OrphanReportAfter), reconcileBatch)
	if err != nil || len(orphans) == 0 {
		return err
	}
	ids := make([]int64, len(orphans))
	for i, o := range orphans {
		ids[i] = o.InboxID
		log.Error().Int64("inbox_id", o.InboxID).Str(logging.FieldCheckoutRequestID, o.CheckoutRequestID).
			Time("received_at", o.ReceivedAt).Msg("stk callback matches no payment; operator must reconcile")
	}
	return ps.MarkOrphansReported(ctx, ids, d.now())
}

func applyForgotten(ctx context.Context, d Deps, log zerolog.Logger) error {
	ids, err := NewStore(d.Pool).UnappliedCallbacks(ctx, mpesa.InboxRouteSTK, d.now().Add(-d.Config.QueryAfter), reconcileBatch)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := ApplyInboxRow(ctx, d, id); err != nil {
			log.Warn().Err(err).Int64("inbox_id", id).Msg("stored stk callback still not applied")
			continue
		}
		log.Warn().Int64("inbox_id", id).Msg("stored stk callback applied by reconciliation: its notice was lost")
	}
	return nil
}
