package payment

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/outbox"
	"fundigo/pkg/store"
	"fundigo/pkg/tracing"
)

// claimed is one inbox row taken by a batch.
type claimed struct {
	id         int64
	body       []byte
	receivedAt time.Time
	// evidence.trusted is the row's source_trusted; settle adds Daraja's
	// "paid" (evidence.confirmedPaid).
	evidence evidence
	done     bool // already applied (a payment_callbacks row exists)
	cb       *mpesa.STKCallback
	trace    map[string]string // the delivery's W3C trace context (inbox.trace_context)
}

const claimColumns = `i.id, i.body, i.received_at, i.source_trusted,
	EXISTS (SELECT 1 FROM payment_callbacks c WHERE c.inbox_id = i.id), i.trace_context`

// claimNext locks up to limit unapplied, due STK inbox rows, oldest first;
// rows locked by another applier are skipped, so replicas share the work.
func claimNext(ctx context.Context, tx pgx.Tx, limit int) ([]claimed, error) {
	return claimRows(tx.Query(ctx, `SELECT `+claimColumns+` FROM inbox i
		WHERE i.route = $1 AND i.applied_at IS NULL AND i.stuck_at IS NULL
		  AND (i.next_attempt_at IS NULL OR i.next_attempt_at <= now())
		ORDER BY i.id LIMIT $2 FOR UPDATE SKIP LOCKED`, mpesa.InboxRouteSTK, limit))
}

// claimIDs locks the rows of ids that are still unapplied (a bisected half).
func claimIDs(ctx context.Context, tx pgx.Tx, ids []int64) ([]claimed, error) {
	return claimRows(tx.Query(ctx, `SELECT `+claimColumns+` FROM inbox i
		WHERE i.id = ANY($1::bigint[]) AND i.applied_at IS NULL AND i.stuck_at IS NULL
		ORDER BY i.id FOR UPDATE SKIP LOCKED`, ids))
}

func claimRows(rows pgx.Rows, err error) ([]claimed, error) {
	if err != nil {
		return nil, fmt.Errorf("claim stk callbacks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (claimed, error) {
		var c claimed
		var tc []byte
		err := r.Scan(&c.id, &c.body, &c.receivedAt, &c.evidence.trusted, &c.done, &tc)
		if err == nil && tc != nil {
			_ = json.Unmarshal(tc, &c.trace) // an unreadable context only loses the trace
		}
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim stk callbacks: %w", err)
	}
	return out, nil
}

// applyClaimed applies rows (locked by tx) with set-based statements: lock
// their CheckoutRequestIDs and payments, decide every outcome in Go (judge),
// then write transitions, ledger rows, callback outcomes, events and the
// rows' applied marks with one multi-row statement each. Callbacks that
// match no payment by CheckoutRequestID (orphans, ambiguous pushes) take the
// single-row path inside the same transaction. A body that is not a
// callback is marked stuck with its reason.
func applyClaimed(ctx context.Context, d Deps, tx pgx.Tx, rows []claimed) error {
	now := d.now()
	var applied []int64
	var stuckIDs []int64
	var stuckWhy []string
	var keys []string
	var unverified []int64
	var toConfirm []string
	for i := range rows {
		r := &rows[i]
		if r.done {
			applied = append(applied, r.id)
			continue
		}
		cb, err := mpesa.ParseCallback(r.body)
		if err != nil {
			stuckIDs, stuckWhy = append(stuckIDs, r.id), append(stuckWhy, truncate(err.Error()))
			continue
		}
		r.cb = cb
		if !slices.Contains(keys, cb.CheckoutRequestID) {
			keys = append(keys, cb.CheckoutRequestID)
		}
	}
	var receipts []string
	for _, r := range rows {
		if r.cb != nil && r.cb.Success() && r.cb.Metadata.MpesaReceiptNumber != "" {
			receipts = append(receipts, r.cb.Metadata.MpesaReceiptNumber)
		}
	}
	byCheckout, owners, err := readBatch(ctx, tx, keys, receipts)
	if err != nil {
		return err
	}

	var w batchWrites
	changed := map[string]bool{}
	for _, r := range rows {
		if r.cb == nil {
			continue
		}
		log := d.Log.With().Int64("inbox_id", r.id).Str(logging.FieldCheckoutRequestID, logging.TruncateID(r.cb.CheckoutRequestID)).Logger()
		p, ok := byCheckout[r.cb.CheckoutRequestID]
		if !ok {
			// Rare: an orphan or an ambiguous push; one row at a time.
			outcome, err := applyNew(ctx, d, tx, log, r.id, r.body, r.receivedAt, r.cb)
			if err != nil {
				return err
			}
			log.Debug().Str("outcome", outcome).Msg("stk callback applied")
			applied = append(applied, r.id)
			continue
		}
		if r.evidence.refutes(r.cb) {
			log.Warn().Str(logging.FieldPaymentID, p.ID).Str(logging.FieldResultCode, r.cb.ResultCode).
				Msg("stk failure callback from an untrusted source contradicts Daraja's query; recorded, not applied")
			w.callbacks = append(w.callbacks, callbackRow{inboxID: r.id, checkout: r.cb.CheckoutRequestID,
				resultCode: r.cb.ResultCode, paymentID: p.ID, outcome: outcomeRefuted})
			applied = append(applied, r.id)
			continue
		}
		v := judge(p, r.cb, owners[r.cb.Metadata.MpesaReceiptNumber])
		if v.needsConfirmation(p.Status, r.evidence.vouches(r.cb)) {
			// Evidence before money: a callback from a source we cannot
			// trust that would pay or settle the payment waits, unapplied,
			// while Daraja is asked about its CheckoutRequestID at once
			// (Confirm); Daraja's answer settles the payment and applies
			// this row with it.
			unverified = append(unverified, r.id)
			if !slices.Contains(toConfirm, r.cb.CheckoutRequestID) {
				toConfirm = append(toConfirm, r.cb.CheckoutRequestID)
			}
			continue
		}
		v.o.At = now
		if v.ledger != nil {
			w.ledger = append(w.ledger, *v.ledger)
			owners[v.ledger.Receipt] = p.ID
		}
		next := v.apply(p)
		if v.to != "" || v.setReceipt {
			byCheckout[r.cb.CheckoutRequestID] = next
			changed[r.cb.CheckoutRequestID] = true
		}
		if v.to != "" {
			n := len(w.events)
			if w.events, err = appendEvents(w.events, next); err != nil {
				return err
			}
			traceApply(ctx, r, next, w.events[n:])
			ev := log.Info()
			if v.to == NeedsReview {
				ev = log.Warn().Str("review_reason", v.o.Reason)
			}
			ev.Str(logging.FieldPaymentID, p.ID).Str("status", string(next.Status)).
				Str("failure_reason", next.FailureReason).Msg("payment " + string(next.Status))
		}
		w.callbacks = append(w.callbacks, callbackRow{inboxID: r.id, checkout: r.cb.CheckoutRequestID,
			resultCode: r.cb.ResultCode, paymentID: p.ID, outcome: v.outcome})
		applied = append(applied, r.id)
	}
	for k := range changed {
		w.payments = append(w.payments, byCheckout[k])
	}
	w.applied, w.unverified, w.stuckIDs, w.stuckWhy = applied, unverified, stuckIDs, stuckWhy
	w.wait = d.Config.QueryEvery
	if w.wait <= 0 {
		w.wait = time.Minute
	}
	if err := w.write(ctx, tx); err != nil {
		return err
	}
	if len(unverified) > 0 {
		d.Log.Info().Int("count", len(unverified)).Msg("stk callbacks from untrusted sources wait for Daraja's confirmation")
		requestConfirmation(ctx, d, d.Log, toConfirm)
	}
	if len(stuckIDs) > 0 {
		d.Log.Error().Ints64("inbox_ids", stuckIDs).Msg("stored stk callbacks are not callbacks; stuck for an operator")
	}
	return nil
}

// traceApply records the application of r as a span continuing the trace of
// the callback's delivery (the row's trace_context, from the webhook
// request), and gives the events it emits (evs, modified in place) that
// span's context, so the relay's publish and the consumers join the same
// trace. Rows delivered without a trace context emit untraced events.
func traceApply(ctx context.Context, r claimed, p Payment, evs []outbox.Message) {
	if !tracing.HasContext(r.trace) {
		return
	}
	sctx, span := tracing.Tracer().Start(tracing.Extract(ctx, r.trace), "payment.apply_callback",
		trace.WithAttributes(attribute.String("fundigo.payment.id", p.ID),
			attribute.Int64("fundigo.inbox.id", r.id),
			attribute.String("fundigo.payment.status", string(p.Status))))
	defer span.End()
	for i := range evs {
		evs[i].Headers = outbox.WithTrace(sctx, evs[i].Headers)
	}
}

// readBatch takes the CheckoutRequestID locks of keys (LockCheckouts) and
// reads and locks their payments (ByCheckoutsForUpdate) in one round trip,
// then reads the owners of receipts (ReceiptOwners, a round trip of its own:
// it is planned at each call, which a statement sent in a pgx batch cannot
// be).
func readBatch(ctx context.Context, tx pgx.Tx, keys, receipts []string) (map[string]Payment, map[string]string, error) {
	byCheckout := make(map[string]Payment, len(keys))
	if len(keys) > 0 {
		var b pgx.Batch
		b.Queue(lockCheckoutsSQL, keys)
		b.Queue(`SELECT `+paymentColumns+` FROM payments
			WHERE checkout_request_id = ANY($1::text[]) ORDER BY id FOR UPDATE`, keys)
		br := tx.SendBatch(ctx, &b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return nil, nil, fmt.Errorf("lock %d checkout request ids: %w", len(keys), err)
		}
		ps, err := collectPayments(br.Query())
		if err != nil {
			return nil, nil, fmt.Errorf("lock payments of %d checkout request ids: %w", len(keys), err)
		}
		for _, p := range ps {
			byCheckout[p.CheckoutRequestID] = p
		}
		if err := br.Close(); err != nil {
			return nil, nil, fmt.Errorf("lock payments of %d checkout request ids: %w", len(keys), err)
		}
	}
	if len(receipts) == 0 {
		return byCheckout, map[string]string{}, nil
	}
	owners, err := NewStore(tx).ReceiptOwners(ctx, receipts)
	if err != nil {
		return nil, nil, err
	}
	return byCheckout, owners, nil
}

// callbackRow is one payment_callbacks row.
type callbackRow struct {
	inboxID    int64
	checkout   string
	resultCode string
	paymentID  string
	outcome    string
}

// batchWrites collects a batch's effects, written with one statement each,
// all sent in one round trip (write).
type batchWrites struct {
	payments  []Payment
	ledger    []LedgerEntry
	callbacks []callbackRow
	events    []outbox.Message
	// applied inbox rows; unverified ones wait for STK Query (wait);
	// stuckIDs are not callbacks (stuckWhy).
	applied, unverified, stuckIDs []int64
	stuckWhy                      []string
	wait                          time.Duration
}

// write sends every statement of w in one pgx.Batch, in the order the
// effects were written one statement at a time before: transitions, ledger,
// callback outcomes, events, then the inbox rows' marks.
func (w *batchWrites) write(ctx context.Context, tx pgx.Tx) error {
	var b pgx.Batch
	var what []string // per queued statement, for its error
	queue := func(desc, sql string, args ...any) {
		b.Queue(sql, args...)
		what = append(what, desc)
	}
	if n := len(w.payments); n > 0 {
		ids := make([]uuid.UUID, n)
		status, fr, rr, rc, rd, mr := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		at := make([]time.Time, n)
		for i, p := range w.payments {
			id, err := ParseID(p.ID)
			if err != nil {
				return err
			}
			ids[i], status[i], fr[i], rr[i], rc[i], rd[i], mr[i], at[i] = id, string(p.Status), p.FailureReason,
				p.ReviewReason, p.ResultCode, p.ResultDesc, p.MpesaReceipt, p.UpdatedAt
		}
		queue(fmt.Sprintf("write %d payment transitions", n), `UPDATE payments p SET status = u.status, failure_reason = nullif(u.fr, ''),
				review_reason = nullif(u.rr, ''), result_code = nullif(u.rc, ''), result_desc = nullif(u.rd, ''),
				mpesa_receipt = nullif(u.mr, ''), updated_at = u.at
			FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[])
				AS u(id, status, fr, rr, rc, rd, mr, at)
			WHERE p.id = u.id`, ids, status, fr, rr, rc, rd, mr, at)
	}
	if n := len(w.ledger); n > 0 {
		receipts, pids, checkouts := make([]string, n), make([]string, n), make([]string, n)
		cents := make([]int64, n)
		dates := make([]*time.Time, n)
		for i, e := range w.ledger {
			receipts[i], pids[i], checkouts[i], cents[i] = e.Receipt, e.PaymentID, e.CheckoutRequestID, e.AmountCents
			if !e.TransactionDate.IsZero() {
				dates[i] = &w.ledger[i].TransactionDate
			}
		}
		// No ON CONFLICT: a receipt recorded concurrently by another batch
		// fails this one (unique violation, retried), never silently.
		queue(fmt.Sprintf("record %d receipts", n), `INSERT INTO payment_ledger (mpesa_receipt, payment_id, checkout_request_id, amount_cents, transaction_date)
			SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::bigint[], $5::timestamptz[])`,
			receipts, pids, checkouts, cents, dates)
	}
	if n := len(w.callbacks); n > 0 {
		ids, checkouts, codes, pids, outcomes := make([]int64, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, c := range w.callbacks {
			ids[i], checkouts[i], codes[i], pids[i], outcomes[i] = c.inboxID, c.checkout, c.resultCode, c.paymentID, c.outcome
		}
		queue(fmt.Sprintf("record %d callback outcomes", n), `INSERT INTO payment_callbacks (inbox_id, checkout_request_id, result_code, payment_id, outcome)
			SELECT i, c, r, nullif(p, '')::uuid, o FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(i, c, r, p, o)`,
			ids, checkouts, codes, pids, outcomes)
	}
	if len(w.events) > 0 {
		if err := outbox.QueueBatch(&b, w.events); err != nil {
			return err
		}
		if err := store.NotifyOnCommit(ctx, tx, outbox.NotifyChannel); err != nil {
			return err
		}
		what = append(what, fmt.Sprintf("write %d outbox messages", len(w.events)))
	}
	if n := len(w.applied); n > 0 {
		queue(fmt.Sprintf("mark %d stk callbacks applied", n),
			`UPDATE inbox SET applied_at = now() WHERE id = ANY($1::bigint[])`, w.applied)
	}
	if n := len(w.unverified); n > 0 {
		queue(fmt.Sprintf("defer %d unverified stk callbacks", n), `UPDATE inbox SET next_attempt_at = now() + make_interval(secs => $2),
			last_error = 'callback from an untrusted source: awaiting confirmation by STK Push Query'
			WHERE id = ANY($1::bigint[])`, w.unverified, w.wait.Seconds())
	}
	if n := len(w.stuckIDs); n > 0 {
		queue(fmt.Sprintf("mark %d stk callbacks stuck", n), `UPDATE inbox i SET stuck_at = now(), attempts = attempts + 1, last_error = u.why
			FROM unnest($1::bigint[], $2::text[]) AS u(id, why) WHERE i.id = u.id`, w.stuckIDs, w.stuckWhy)
	}
	if len(what) == 0 {
		return nil
	}
	br := tx.SendBatch(ctx, &b)
	for _, desc := range what {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return fmt.Errorf("%s: %w", desc, err)
		}
	}
	return br.Close()
}

// errLedgerRace reports a receipt recorded by a concurrent batch: retrying
// sees its owner and decides again.
func errLedgerRace(err error) bool {
	return err != nil && store.IsUniqueViolation(err, "payment_ledger_pkey")
}

// truncate bounds an error text stored as last_error.
func truncate(s string) string {
	if len(s) > 500 {
		return s[:500]
	}
	return s
}
