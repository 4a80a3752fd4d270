package payout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"fundigo/pkg/events"
	"fundigo/pkg/inbox"
	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/outbox"
	"fundigo/pkg/store"
)

// Routes are the inbox routes ApplyInboxRow applies.
var Routes = []string{mpesa.InboxRouteB2CResult, mpesa.InboxRouteB2CTimeout, mpesa.InboxRouteStatusResult, mpesa.InboxRouteStatusTimeout}

// ApplyInboxRow applies one stored B2C or Transaction Status answer, once:
// the inbox row is marked applied in the transaction that applies it, so a
// redelivered notice changes nothing. Errors wrapping mpesa.ErrInvalidResult
// or store.ErrNotFound (row gone) are permanent.
func ApplyInboxRow(ctx context.Context, d Deps, inboxID int64) error {
	err := store.WithTx(ctx, d.Pool, func(tx pgx.Tx) error {
		row, err := inbox.Get(ctx, tx, inboxID)
		if err != nil {
			return err
		}
		r, err := mpesa.ParseResult(row.Body)
		if err != nil {
			return fmt.Errorf("inbox row %d: %w", inboxID, err)
		}
		fresh, err := inbox.MarkApplied(ctx, tx, inboxID, d.now())
		if err != nil || !fresh {
			return err
		}
		log := d.Log.With().Int64("inbox_id", inboxID).Str("route", row.Route).Str(logging.FieldResultCode, r.ResultCode).Logger()
		a := applier{d: d, tx: tx, ps: NewStore(tx), log: log, now: d.now()}
		switch row.Route {
		case mpesa.InboxRouteB2CResult:
			return a.b2cResult(ctx, r)
		case mpesa.InboxRouteB2CTimeout:
			return a.b2cTimeout(ctx, r)
		case mpesa.InboxRouteStatusResult:
			return a.statusResult(ctx, r)
		case mpesa.InboxRouteStatusTimeout:
			log.Info().Msg("transaction status query timed out; asked again on schedule")
			return nil
		}
		return fmt.Errorf("inbox row %d: route %q is not a payout route: %w", inboxID, row.Route, mpesa.ErrInvalidResult)
	})
	if err != nil {
		return fmt.Errorf("apply payout answer %d: %w", inboxID, err)
	}
	return nil
}

// applier applies one answer inside its transaction.
type applier struct {
	d   Deps
	tx  pgx.Tx
	ps  *Store
	log zerolog.Logger
	now time.Time
}

// subject finds and locks the payout a B2C result or timeout is about: by
// OriginatorConversationID, else by ConversationID. Both ids, when the
// payout and the answer have them, must agree; found=false otherwise.
func (a *applier) subject(ctx context.Context, r *mpesa.Result) (Payout, bool, error) {
	var p Payout
	err := store.ErrNotFound
	if r.OriginatorConversationID != "" {
		p, err = a.ps.ByOriginatorForUpdate(ctx, r.OriginatorConversationID)
	}
	if errors.Is(err, store.ErrNotFound) && r.ConversationID != "" {
		p, err = a.ps.ByConversationForUpdate(ctx, r.ConversationID)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.log.Warn().Msg("payout answer matches no payout; kept in the inbox only")
		return Payout{}, false, nil
	case err != nil:
		return Payout{}, false, err
	}
	if (r.ConversationID != "" && p.ConversationID != "" && r.ConversationID != p.ConversationID) ||
		(r.OriginatorConversationID != "" && r.OriginatorConversationID != p.OriginatorConversationID) {
		a.log.Warn().Str(logging.FieldPayoutID, p.ID).Msg("payout answer ids disagree with the payout's; ignored")
		return Payout{}, false, nil
	}
	return p, true, nil
}

func (a *applier) b2cResult(ctx context.Context, r *mpesa.Result) error {
	p, ok, err := a.subject(ctx, r)
	if err != nil || !ok {
		return err
	}
	ev := evidence{source: "b2c result", code: r.ResultCode, desc: r.ResultDesc, conversationID: r.ConversationID}
	if r.Success() {
		ev.success = true
		ev.receipt = firstNonEmpty(r.Params.Value("TransactionReceipt"), r.TransactionID)
		ev.amount = r.Params.Value("TransactionAmount")
		if t, err := mpesa.ParseCompletedTime(r.Params.Value("TransactionCompletedDateTime")); err == nil {
			ev.completedAt = &t
		}
		if p.Status == Succeeded && ev.receipt == p.MpesaReceipt {
			return nil // a repeat: its balances are recorded already
		}
		if err := a.balances(ctx, p, r.Params); err != nil {
			return err
		}
	} else {
		ev.reason = ReasonFor(r.ResultCode)
	}
	return a.settle(ctx, p, ev)
}

func (a *applier) b2cTimeout(ctx context.Context, r *mpesa.Result) error {
	p, ok, err := a.subject(ctx, r)
	if err != nil || !ok {
		return err
	}
	if p.Status != Pending && p.Status != Submitted {
		return nil
	}
	p, err = a.ps.Transition(ctx, p.ID, Change{From: []Status{Pending, Submitted}, To: Unknown,
		ConversationID: r.ConversationID, NextQueryAt: &a.now, At: a.now})
	if err != nil {
		return ignoreStale(err)
	}
	a.log.Warn().Str(logging.FieldPayoutID, p.ID).Msg("payout queue timeout: outcome unknown, never re-sent; settling by transaction status")
	return emit(ctx, a.tx, p)
}

// statusResult applies a Transaction Status result. Its outer ids are the
// query's; the payout is named by its ResultParameters
// (OriginatorConversationID), else found by the query's ids stored on it.
func (a *applier) statusResult(ctx context.Context, r *mpesa.Result) error {
	var p Payout
	err := store.ErrNotFound
	if orig := r.Params.Value("OriginatorConversationID"); orig != "" {
		p, err = a.ps.ByOriginatorForUpdate(ctx, orig)
	}
	if errors.Is(err, store.ErrNotFound) && r.OriginatorConversationID != "" {
		p, err = a.ps.ByStatusQueryForUpdate(ctx, r.OriginatorConversationID)
	}
	if errors.Is(err, store.ErrNotFound) {
		a.log.Warn().Msg("transaction status result matches no payout; kept in the inbox only")
		return nil
	}
	if err != nil {
		return err
	}
	if conv := r.Params.Value("ConversationID"); conv != "" && p.ConversationID != "" && conv != p.ConversationID {
		a.log.Warn().Str(logging.FieldPayoutID, p.ID).Msg("transaction status result names another conversation; ignored")
		return nil
	}
	if !r.Success() {
		// The query itself failed (unknown transaction, not yet
		// processed): no evidence either way; asked again on schedule.
		a.log.Info().Str(logging.FieldPayoutID, p.ID).Msg("transaction status query answered without a status")
		return nil
	}
	status := strings.TrimSpace(r.Params.Value("TransactionStatus"))
	ev := evidence{source: "transaction status", desc: "Transaction Status: " + status}
	if strings.EqualFold(status, "Completed") {
		ev.success = true
		ev.code = "0"
		ev.receipt = r.Params.Value("ReceiptNo")
		ev.amount = r.Params.Value("Amount")
		if t, err := mpesa.ParseCompletedTime(r.Params.Value("FinalisedTime")); err == nil {
			ev.completedAt = &t
		}
	} else {
		ev.reason = ReasonOther
	}
	return a.settle(ctx, p, ev)
}

// evidence is what one answer says about a payout.
type evidence struct {
	source         string
	success        bool
	code, desc     string
	conversationID string
	receipt        string
	amount         string // as sent; checked against the payout when present
	completedAt    *time.Time
	reason         FailureReason
}

// settle applies ev to p (locked): a definitive answer ends an open payout;
// one that contradicts a final payout sends it to needs_review; a repeat
// changes nothing.
func (a *applier) settle(ctx context.Context, p Payout, ev evidence) error {
	log := a.log.With().Str(logging.FieldPayoutID, p.ID).Str("evidence", ev.source).Logger()
	if ev.success {
		return a.succeed(ctx, log, p, ev)
	}
	switch p.Status {
	case Pending, Submitted, Unknown:
		return a.move(ctx, log, p, Change{To: Failed, ResultCode: ev.code, ResultDesc: ev.desc,
			FailureReason: string(ev.reason), ConversationID: ev.conversationID, ClearNextQuery: true})
	case Succeeded:
		return a.move(ctx, log, p, Change{To: NeedsReview, ReviewReason: "failure reported (" + ev.source + ") after a success",
			ClearNextQuery: true})
	}
	return nil // failed already (a repeat) or under review
}

func (a *applier) succeed(ctx context.Context, log zerolog.Logger, p Payout, ev evidence) error {
	if ev.amount != "" {
		if cents, err := mpesa.ParseCents(ev.amount); err != nil || cents != p.Amount*100 {
			return a.move(ctx, log, p, Change{To: NeedsReview, ReviewReason: "success reported (" + ev.source + ") for another amount",
				Receipt: ev.receipt, ClearNextQuery: true})
		}
	}
	if p.Status == Succeeded && (ev.receipt == "" || ev.receipt == p.MpesaReceipt) {
		return nil // a repeat
	}
	if ev.receipt == "" {
		return a.move(ctx, log, p, Change{To: NeedsReview, ReviewReason: "success reported (" + ev.source + ") without a receipt",
			ClearNextQuery: true})
	}
	owner, inserted, err := a.ps.RecordReceipt(ctx, p.ID, ev.receipt, p.Amount*100, ev.completedAt)
	if err != nil {
		return err
	}
	switch {
	case !inserted && owner != p.ID:
		return a.move(ctx, log, p, Change{To: NeedsReview, ReviewReason: "receipt already recorded for another transaction",
			ClearNextQuery: true})
	case p.Status == Succeeded:
		return a.move(ctx, log, p, Change{To: NeedsReview, ReviewReason: "a second receipt for one payout", ClearNextQuery: true})
	case p.Status == Failed:
		return a.move(ctx, log, p, Change{To: NeedsReview, ReviewReason: "success reported (" + ev.source + ") after a failure",
			Receipt: ev.receipt, ClearNextQuery: true})
	case p.Status == NeedsReview:
		return nil
	}
	return a.move(ctx, log, p, Change{To: Succeeded, ResultCode: ev.code, ResultDesc: ev.desc, Receipt: ev.receipt,
		ConversationID: ev.conversationID, CompletedAt: ev.completedAt, ClearNextQuery: true})
}

// move applies c to p (From = p's current status) with its event.
func (a *applier) move(ctx context.Context, log zerolog.Logger, p Payout, c Change) error {
	c.From, c.At = []Status{p.Status}, a.now
	np, err := a.ps.Transition(ctx, p.ID, c)
	if err != nil {
		return err
	}
	log.Info().Str("from", string(p.Status)).Str("to", string(np.Status)).Msg("payout settled")
	return emit(ctx, a.tx, np)
}

// balances stores the balances a B2C result reports and raises the
// treasury alert when the utility account runs low.
func (a *applier) balances(ctx context.Context, p Payout, params mpesa.Params) error {
	cents := func(key string) *int64 {
		v, ok := params.Get(key)
		if !ok || v == "" {
			return nil
		}
		c, err := mpesa.ParseCents(v)
		if err != nil {
			return nil
		}
		return &c
	}
	b := Balances{Utility: cents("B2CUtilityAccountAvailableFunds"), Working: cents("B2CWorkingAccountAvailableFunds"),
		Charges: cents("B2CChargesPaidAccountAvailableFunds")}
	if err := a.ps.RecordBalances(ctx, p.ID, b, a.now); err != nil {
		return err
	}
	if b.Utility != nil && *b.Utility < a.d.Config.LowBalance*100 {
		a.log.Warn().Int64("utility_cents", *b.Utility).Msg("b2c utility account balance low")
		return outbox.WriteEvent(ctx, a.tx, events.PayoutBalanceLow{PayoutID: p.ID, UtilityCents: *b.Utility,
			ThresholdKES: a.d.Config.LowBalance, ReportedAt: a.now})
	}
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
