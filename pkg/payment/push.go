package payment

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/store"
)

// PushAttempt says where a push task stands among its retries; the adapter
// fills it from its transport (Asynq's retry count and max retry).
type PushAttempt struct {
	Retried int  // attempts before this one
	Last    bool // no retry follows a failure of this one
}

// Push sends one payment's STK Push. Its outcomes:
//
//   - not pending, or a push already started: nil (already done, or its
//     outcome is unknown and must not be re-sent);
//   - accepted: awaiting_callback with the ids; orphan callbacks that beat
//     this write are applied now;
//   - ambiguous (timeout after sending): awaiting_callback without ids,
//     settled by a confirmed callback or the final deadline;
//   - refused by Daraja: failed/rejected with the error code;
//   - certainly not sent / Daraja busy: the error is returned (retry), and
//     on the last attempt the payment fails with reason "other".
func (pu *Pusher) Push(ctx context.Context, paymentID string, attempt PushAttempt) error {
	d := pu.d
	log := d.Log.With().Str(logging.FieldPaymentID, paymentID).Logger()
	uid, err := ParseID(paymentID)
	if err != nil {
		log.Warn().Msg("stk push for unknown payment; dropped")
		return nil
	}
	ps := NewStore(d.Pool)
	// Wait for the group's answer even if ctx ends: the mark may commit
	// anyway, and a push marked started but never sent would be settled as
	// ambiguous by the retry. A cancelled ctx then fails the send as not
	// sent, which undoes the mark (AbortPush).
	p, err := pu.begin.Do(context.WithoutCancel(ctx), uid)
	if errors.Is(err, store.ErrStaleTransition) {
		return settleStartedPush(ctx, d, log, paymentID)
	}
	if err != nil {
		return err
	}
	res, err := d.STK.STKPush(ctx, mpesa.PushRequest{
		Amount: p.Amount, PhoneNumber: p.Phone,
		AccountReference: accountReference(p.JobID), TransactionDesc: transactionDesc(p.Description),
	})
	var apiErr *mpesa.APIError
	switch {
	case err == nil:
		// The push went out: its record must not be lost to a cancelled task.
		_, err := pu.accept.Do(context.WithoutCancel(ctx), acceptedPush{p: p, res: res,
			log: log.With().Str(logging.FieldCheckoutRequestID, res.CheckoutRequestID).Logger()})
		return err
	case errors.Is(err, mpesa.ErrAmbiguous):
		log.Warn().Err(err).Msg("stk push outcome unknown; waiting for callback or deadline")
		return markAwaiting(ctx, d, log, p.ID, "", "", true)
	case mpesa.Retryable(err):
		if abortErr := ps.AbortPush(context.WithoutCancel(ctx), p.ID); abortErr != nil {
			// The push is left "started": the retry will treat it as ambiguous. Safe.
			return errors.Join(err, abortErr)
		}
		if !attempt.Last {
			log.Warn().Err(err).Int(logging.FieldAttempt, attempt.Retried+1).Msg("stk push not sent; will retry")
			return err
		}
		return markFailed(ctx, d, log, p.ID, Outcome{
			Reason: string(mpesa.ReasonOther), ResultDesc: "daraja unavailable: " + err.Error(), At: d.now()})
	case errors.As(err, &apiErr):
		return markFailed(ctx, d, log, p.ID, Outcome{
			Reason: string(mpesa.ReasonRejected), ResultCode: apiErr.Code, ResultDesc: apiErr.Message, At: d.now()})
	default:
		// Not classified by the client: treat as ambiguous, never re-send.
		log.Warn().Err(err).Msg("stk push failed unclassified; treating as ambiguous")
		return markAwaiting(ctx, d, log, p.ID, "", "", true)
	}
}

// settleStartedPush handles a task that finds its payment not startable: if
// it is still pending, an earlier attempt started the push and died (crash,
// lost write) with an unknown outcome, so the payment waits as ambiguous.
func settleStartedPush(ctx context.Context, d Deps, log zerolog.Logger, id string) error {
	p, err := NewStore(d.Pool).Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		log.Warn().Msg("stk push task for unknown payment; dropped")
		return nil
	}
	if err != nil {
		return err
	}
	if p.Status != Pending {
		return nil // already pushed
	}
	log.Warn().Msg("stk push started earlier with unknown outcome; not re-sending")
	return markAwaiting(ctx, d, log, id, "", "", true)
}

func markAwaiting(ctx context.Context, d Deps, log zerolog.Logger, id, merchantID, checkoutID string, ambiguous bool) error {
	ctx = context.WithoutCancel(ctx)
	err := store.WithTx(ctx, d.Pool, func(tx pgx.Tx) error {
		p, err := NewStore(tx).MarkAwaiting(ctx, id, merchantID, checkoutID, ambiguous, d.now())
		if err != nil {
			return err
		}
		return emitAwaiting(ctx, tx, p)
	})
	if errors.Is(err, store.ErrStaleTransition) {
		return nil
	}
	if err == nil {
		log.Info().Bool("ambiguous", ambiguous).Msg("payment awaiting callback")
	}
	return err
}

func markFailed(ctx context.Context, d Deps, log zerolog.Logger, id string, o Outcome) error {
	ctx = context.WithoutCancel(ctx)
	return store.WithTx(ctx, d.Pool, func(tx pgx.Tx) error {
		_, err := transition(ctx, d, tx, log.With().Str(logging.FieldResultCode, o.ResultCode).Logger(),
			NewStore(tx).MarkFailed, id, o, outcomeFailed)
		return err
	})
}

// accountReference is what the customer sees in the prompt: the job id,
// alphanumerics and dashes only, cut to Daraja's 12 characters.
func accountReference(jobID string) string {
	ref := strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-') {
			return r
		}
		return -1
	}, jobID)
	if len(ref) > mpesa.MaxAccountReference {
		ref = ref[:mpesa.MaxAccountReference]
	}
	if ref == "" {
		ref = "FundiGO"
	}
	return ref
}

// transactionDesc is the optional description cut to Daraja's 13 characters.
func transactionDesc(desc string) string {
	desc = strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && unicode.IsPrint(r) {
			return r
		}
		return -1
	}, desc)
	if desc == "" {
		desc = "FundiGO job"
	}
	if len(desc) > mpesa.MaxTransactionDesc {
		desc = desc[:mpesa.MaxTransactionDesc]
	}
	return desc
}
