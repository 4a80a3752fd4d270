package payment

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"fundigo/pkg/config"
	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// ErrNotConfirmed means Daraja still reports the push as being processed:
// ask again later (the confirmation task retries within confirmPoll).
var ErrNotConfirmed = errors.New("daraja has not settled the push yet")

// ErrQueryRateBusy means this process's STK Push Query rate is spoken for
// beyond maxConfirmWait: the confirmation is retried when its turn comes.
var ErrQueryRateBusy = errors.New("stk query rate busy")

// confirmPoll is the longest wait before a confirmation that Daraja
// answered "still processing" asks again (tasks.RetrySoon): with
// tasks.PaymentConfirmMaxRetry retries, about a minute of asking, the
// lifetime of an STK prompt; the waiting callback asks again when it comes
// due, and reconciliation after that.
const confirmPoll = 5 * time.Second

// maxConfirmWait is the longest a confirmation holds its worker goroutine
// waiting for a turn at the STK Push Query rate.
const maxConfirmWait = 500 * time.Millisecond

// confirmEnqueueBudget bounds the time requestConfirmation may spend on
// Redis inside the caller's transaction.
const confirmEnqueueBudget = 2 * time.Second

// NewQueryLimiter paces the confirmations' STK Push Queries of one process
// at Reconcile.QueryRate per second (Daraja publishes no rate and answers
// 500.003.02 "spike arrest" past it).
func NewQueryLimiter(c config.Payments) *rate.Limiter {
	r := c.Reconcile.WithDefaults().QueryRate
	return rate.NewLimiter(rate.Limit(r), int(math.Max(1, math.Ceil(r))))
}

// requestConfirmation enqueues the confirmation task (tasks.TypePaymentConfirm,
// task id per CheckoutRequestID, so a live one is never duplicated) of each
// checkout. It never fails its caller: if Redis cannot take a task, the
// deferred callback asks again when it comes due (QueryEvery) and
// reconciliation queries the payment anyway, so it only logs.
func requestConfirmation(ctx context.Context, d Deps, log zerolog.Logger, checkouts []string) {
	if d.Tasks == nil || len(checkouts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), confirmEnqueueBudget)
	defer cancel()
	for i, c := range checkouts {
		task, err := tasks.NewPaymentConfirm(ctx, c, d.Queues.Critical)
		if err == nil {
			_, err = d.Tasks.EnqueueContext(ctx, task)
		}
		if err == nil || errors.Is(err, asynq.ErrTaskIDConflict) {
			continue
		}
		log.Warn().Err(err).Int("not_requested", len(checkouts)-i).
			Msg("stk confirmation not requested; the waiting callback asks again when it comes due")
		return
	}
}

// Confirm settles, with Daraja's word, a push whose callback could not be
// believed on its own: one from an untrusted source that would pay or
// settle its payment (kept unapplied in the inbox), or a success that
// matched an ambiguous push only by phone and amount (kept as an orphan).
// It asks STK Push Query about checkoutRequestID and then, under the
// CheckoutRequestID lock:
//
//   - ResultCode 0: the waiting success callbacks are applied as if trusted
//     (the payment becomes paid with the callback's receipt, after judge's
//     amount, phone and receipt checks; an ambiguous push matching the
//     callback's phone and amount is linked first), and waiting untrusted
//     failures are recorded as refuted. With no usable callback the
//     payment is paid by query, as reconciliation does;
//   - any other final code: the payment fails with that reason, then the
//     waiting callbacks are applied as they are (a success after a failure
//     is needs_review, never paid);
//   - still being processed: ErrNotConfirmed (retry later); nothing changes.
//
// A push Daraja refuses to answer about (not its CheckoutRequestID: a forged
// one) confirms nothing: the callback stays as evidence for an operator.
// Confirm is idempotent; a payment already settled is not queried, its
// waiting callbacks are just applied against its state.
func Confirm(ctx context.Context, d Deps, checkoutRequestID string) error {
	log := d.Log.With().Str(logging.FieldCheckoutRequestID, logging.TruncateID(checkoutRequestID)).Logger()
	ps := NewStore(d.Pool)
	p, err := ps.GetByCheckout(ctx, checkoutRequestID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		orphans, err := ps.OpenOrphans(ctx, checkoutRequestID)
		if err != nil || len(orphans) == 0 {
			return err // nothing waits for this push
		}
	case err != nil:
		return err
	case p.Status != AwaitingCallback:
		return settle(ctx, d, log, checkoutRequestID, nil)
	}
	if d.QueryLimiter != nil {
		// Wait for a turn only briefly: a burst of confirmations (every
		// success in verify-all mode) must not park the critical queue's
		// goroutines, which the STK pushes need, behind Daraja's query
		// rate. A later turn is taken as a retry at that time.
		r := d.QueryLimiter.Reserve()
		if wait := r.Delay(); wait > maxConfirmWait {
			r.Cancel()
			return &tasks.RetryAfter{After: wait, Err: fmt.Errorf("confirm %s: %w",
				logging.TruncateID(checkoutRequestID), ErrQueryRateBusy)}
		} else if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				r.Cancel()
				return fmt.Errorf("confirm %s: %w", logging.TruncateID(checkoutRequestID), ctx.Err())
			case <-t.C:
			}
		}
	}
	q, err := d.STK.STKQuery(ctx, checkoutRequestID)
	var apiErr *mpesa.APIError
	switch {
	case err != nil && errors.As(err, &apiErr) && !mpesa.Retryable(err):
		ev := log.Warn()
		if p.ID != "" {
			ev = log.Error().Str(logging.FieldPaymentID, p.ID) // Daraja refuses a push it accepted: a human must look
		}
		ev.Err(err).Msg("daraja refused the stk query; the callback stays unconfirmed as evidence")
		return nil
	case err != nil:
		return fmt.Errorf("confirm %s: %w", logging.TruncateID(checkoutRequestID), err)
	case q.Pending:
		if p.ID != "" { // asked: reconciliation need not ask again before QueryEvery
			if err := ps.TouchQueried(ctx, p.ID, d.now()); err != nil {
				return err
			}
		}
		// Asked again within confirmPoll whatever the attempt: the customer
		// may answer any second, and the generic backoff's later waits (up to
		// a minute by the sixth attempt) only delayed "paid".
		return &tasks.RetrySoon{Within: confirmPoll,
			Err: fmt.Errorf("confirm %s: %w", logging.TruncateID(checkoutRequestID), ErrNotConfirmed)}
	}
	return settle(ctx, d, log, checkoutRequestID, &q)
}

// settle applies Daraja's final answer q about checkoutRequestID (nil: none
// needed, the payment is already settled) and then the callbacks that
// waited for it; see Confirm. Reconciliation's STK Query answers come here
// too, so a deferred callback's receipt lands with the query's verdict.
func settle(ctx context.Context, d Deps, log zerolog.Logger, checkoutRequestID string, q *mpesa.QueryResult) error {
	confirmed := q != nil && mpesa.IsSuccess(q.ResultCode)
	return store.WithTx(ctx, d.Pool, func(tx pgx.Tx) error {
		ps := NewStore(tx)
		if err := ps.LockCheckout(ctx, checkoutRequestID); err != nil {
			return err
		}
		p, err := ps.GetByCheckoutForUpdate(ctx, checkoutRequestID)
		if errors.Is(err, store.ErrNotFound) && confirmed {
			p, err = linkConfirmedAmbiguous(ctx, d, ps, log, checkoutRequestID)
		}
		if errors.Is(err, store.ErrNotFound) {
			log.Warn().Bool("confirmed", confirmed).Msg("stk push matches no payment; its callbacks stay orphans for an operator")
			return nil
		}
		if err != nil {
			return err
		}
		log := log.With().Str(logging.FieldPaymentID, p.ID).Logger()
		if q != nil {
			if err := ps.TouchQueried(ctx, p.ID, d.now()); err != nil {
				return err
			}
			if !confirmed {
				out := Outcome{ResultCode: q.ResultCode, ResultDesc: q.ResultDesc, Reason: string(mpesa.ReasonFor(q.ResultCode)), At: d.now()}
				if _, err := transition(ctx, d, tx, log, ps.MarkFailed, p.ID, out, outcomeFailed); err != nil {
					return err
				}
			}
		}
		rows, err := claimCheckout(ctx, tx, checkoutRequestID)
		if err != nil {
			return err
		}
		for i := range rows {
			rows[i].evidence.confirmedPaid = confirmed
		}
		if len(rows) > 0 {
			if err := applyClaimed(ctx, d, tx, rows); err != nil {
				return err
			}
		}
		orphans, err := ps.OpenOrphans(ctx, checkoutRequestID)
		if err != nil {
			return err
		}
		for _, o := range orphans {
			cb, err := mpesa.ParseCallback(o.Body)
			if err != nil {
				continue // cannot happen (parsed before it became an orphan); reported as an orphan
			}
			if err := applyOrphan(ctx, d, tx, log, o, cb, evidence{trusted: o.Trusted, confirmedPaid: confirmed}); err != nil {
				return err
			}
		}
		if confirmed {
			// Paid by query when no waiting callback did it (a stale
			// transition, the usual case after one did, changes nothing).
			out := Outcome{ResultCode: q.ResultCode, ResultDesc: q.ResultDesc, At: d.now()}
			if _, err := transition(ctx, d, tx, log, ps.MarkPaid, p.ID, out, outcomePaid); err != nil {
				return err
			}
		}
		return nil
	})
}

// linkConfirmedAmbiguous links checkoutRequestID, which Daraja confirmed
// paid, to the single ambiguous push whose phone and amount one of its open
// success orphans carries; store.ErrNotFound if there is none or several.
func linkConfirmedAmbiguous(ctx context.Context, d Deps, ps *Store, log zerolog.Logger, checkoutRequestID string) (Payment, error) {
	orphans, err := ps.OpenOrphans(ctx, checkoutRequestID)
	if err != nil {
		return Payment{}, err
	}
	for _, o := range orphans {
		cb, err := mpesa.ParseCallback(o.Body)
		if err != nil {
			continue
		}
		cands, err := ambiguousCandidates(ctx, d, ps, cb)
		if err != nil {
			return Payment{}, err
		}
		if len(cands) != 1 {
			continue
		}
		p, err := ps.LinkCheckout(ctx, cands[0].ID, checkoutRequestID, cb.MerchantRequestID, d.now())
		if err != nil {
			return Payment{}, err
		}
		log.Warn().Str(logging.FieldPaymentID, p.ID).Msg("ambiguous push linked to a callback daraja confirmed")
		return p, nil
	}
	return Payment{}, fmt.Errorf("link confirmed push %s: %w", logging.TruncateID(checkoutRequestID), store.ErrNotFound)
}

// claimCheckout locks the unapplied, not stuck stored callbacks of
// checkoutRequestID (due or not: a deferred one is what a confirmation is
// for); rows a running batch holds are left to it.
func claimCheckout(ctx context.Context, tx pgx.Tx, checkoutRequestID string) ([]claimed, error) {
	return claimRows(tx.Query(ctx, `SELECT `+claimColumns+` FROM inbox i
		WHERE i.route = $1 AND i.natural_key = $2 AND i.applied_at IS NULL AND i.stuck_at IS NULL
		ORDER BY i.id FOR UPDATE SKIP LOCKED`, mpesa.InboxRouteSTK, checkoutRequestID))
}
