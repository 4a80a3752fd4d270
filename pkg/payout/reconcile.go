package payout

import (
	"context"
	"errors"
	"time"

	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
)

// reconcileBatch bounds the payouts one run looks at.
const reconcileBatch = 200

// Reconcile settles payouts whose answer is late, never by re-sending:
//   - pending, never claimed, older than StatusAfter (its task was lost):
//     submitted now (Submit claims it, so at most once still holds);
//   - pending and claimed without an answer: unknown;
//   - submitted or unknown with a status query due: past the final
//     deadline needs_review, else a Transaction Status query, the next one
//     after StatusEvery doubling per query up to StatusMaxEvery.
func Reconcile(ctx context.Context, d Deps) error {
	now := d.now()
	due, err := NewStore(d.Pool).Due(ctx, now, now.Add(-d.Config.StatusAfter), reconcileBatch)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range due {
		if ctx.Err() != nil {
			break
		}
		if err := reconcileOne(ctx, d, p, now); err != nil {
			errs = append(errs, err)
		}
	}
	if len(due) > 0 {
		d.Log.Info().Int("payouts", len(due)).Int("errors", len(errs)).Msg("payout reconciliation run")
	}
	return errors.Join(errs...)
}

func reconcileOne(ctx context.Context, d Deps, p Payout, now time.Time) error {
	log := d.Log.With().Str(logging.FieldPayoutID, p.ID).Logger()
	switch {
	case p.Status == Pending && p.SubmitStartedAt == nil:
		return Submit(ctx, d, p.ID)
	case p.Status == Pending:
		return ignoreStale(markUnknown(ctx, d, p.ID, now))
	case now.Sub(p.CreatedAt) >= d.Config.FinalDeadline:
		_, err := transition(ctx, d, p.ID, Change{From: []Status{Submitted, Unknown}, To: NeedsReview,
			ReviewReason: "no definitive answer by the final deadline", ClearNextQuery: true, At: now})
		if err == nil {
			log.Warn().Msg("payout unresolved at its final deadline; needs review")
		}
		return ignoreStale(err)
	}
	ack, err := d.Daraja.TransactionStatus(ctx, d.Initiator, mpesa.StatusRequest{
		OriginalConversationID: p.OriginatorConversationID, ResultURL: d.URLs.StatusResult,
		QueueTimeOutURL: d.URLs.StatusTimeout, Remarks: "Payout status",
	})
	ps := NewStore(d.Pool)
	if err != nil {
		log.Warn().Err(err).Msg("transaction status query not sent; asked again later")
		return ps.Postpone(ctx, p.ID, now.Add(d.Config.StatusEvery))
	}
	return ps.RecordStatusQuery(ctx, p.ID, ack.OriginatorConversationID, ack.ConversationID, now,
		now.Add(backoff(d.Config.StatusEvery, d.Config.StatusMaxEvery, p.StatusQueries)))
}

// backoff is every doubled n times, capped at max.
func backoff(every, max time.Duration, n int) time.Duration {
	b := every
	for i := 0; i < n && b < max; i++ {
		b *= 2
	}
	return min(b, max)
}
