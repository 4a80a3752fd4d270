package payment

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/outbox"
	"fundigo/pkg/store"
)

// claimed is one inbox row taken by a batch.
type claimed struct {
	id         int64
	body       []byte
	receivedAt time.Time
	trusted    bool
	done       bool // already applied (a payment_callbacks row exists)
	cb         *mpesa.STKCallback
}

const claimColumns = `i.id, i.body, i.received_at, i.source_trusted,
	EXISTS (SELECT 1 FROM payment_callbacks c WHERE c.inbox_id = i.id)`

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
		err := r.Scan(&c.id, &c.body, &c.receivedAt, &c.trusted, &c.done)
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
	ps := NewStore(tx)
	if len(keys) > 0 {
		if err := ps.LockCheckouts(ctx, keys); err != nil {
			return err
		}
	}
	byCheckout, err := ps.ByCheckoutsForUpdate(ctx, keys)
	if err != nil {
		return err
	}
	var receipts []string
	for _, r := range rows {
		if r.cb != nil && r.cb.Success() && r.cb.Metadata.MpesaReceiptNumber != "" {
			receipts = append(receipts, r.cb.Metadata.MpesaReceiptNumber)
		}
	}
	owners := map[string]string{}
	if len(receipts) > 0 {
		if owners, err = ps.ReceiptOwners(ctx, receipts); err != nil {
			return err
		}
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
		v := judge(p, r.cb, owners[r.cb.Metadata.MpesaReceiptNumber])
		if v.outcome == outcomePaid && !r.trusted && d.Config.VerifyAll {
			// Evidence before money: a success from a source we cannot
			// trust waits, unapplied, until Daraja confirms it (the
			// reconcile STK Push Query marks the payment paid, and the
			// row then records its receipt) or the payment ends otherwise.
			unverified = append(unverified, r.id)
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
			if w.events, err = appendEvents(w.events, next); err != nil {
				return err
			}
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
	if err := w.write(ctx, tx); err != nil {
		return err
	}
	if len(applied) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE inbox SET applied_at = now() WHERE id = ANY($1::bigint[])`, applied); err != nil {
			return fmt.Errorf("mark %d stk callbacks applied: %w", len(applied), err)
		}
	}
	if len(unverified) > 0 {
		wait := d.Config.QueryEvery
		if wait <= 0 {
			wait = time.Minute
		}
		if _, err := tx.Exec(ctx, `UPDATE inbox SET next_attempt_at = now() + make_interval(secs => $2),
			last_error = 'success from an untrusted source: awaiting confirmation by STK Push Query'
			WHERE id = ANY($1::bigint[])`, unverified, wait.Seconds()); err != nil {
			return fmt.Errorf("defer %d unverified stk successes: %w", len(unverified), err)
		}
		d.Log.Info().Int("count", len(unverified)).Msg("stk successes from untrusted sources wait for Daraja's confirmation")
	}
	if len(stuckIDs) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE inbox i SET stuck_at = now(), attempts = attempts + 1, last_error = u.why
			FROM unnest($1::bigint[], $2::text[]) AS u(id, why) WHERE i.id = u.id`, stuckIDs, stuckWhy); err != nil {
			return fmt.Errorf("mark %d stk callbacks stuck: %w", len(stuckIDs), err)
		}
		d.Log.Error().Ints64("inbox_ids", stuckIDs).Msg("stored stk callbacks are not callbacks; stuck for an operator")
	}
	return nil
}

// callbackRow is one payment_callbacks row.
type callbackRow struct {
	inboxID    int64
	checkout   string
	resultCode string
	paymentID  string
	outcome    string
}

// batchWrites collects a batch's effects, written with one statement each.
type batchWrites struct {
	payments  []Payment
	ledger    []LedgerEntry
	callbacks []callbackRow
	events    []outbox.Message
}

func (w *batchWrites) write(ctx context.Context, tx pgx.Tx) error {
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
		if _, err := tx.Exec(ctx, `UPDATE payments p SET status = u.status, failure_reason = nullif(u.fr, ''),
				review_reason = nullif(u.rr, ''), result_code = nullif(u.rc, ''), result_desc = nullif(u.rd, ''),
				mpesa_receipt = nullif(u.mr, ''), updated_at = u.at
			FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[])
				AS u(id, status, fr, rr, rc, rd, mr, at)
			WHERE p.id = u.id`, ids, status, fr, rr, rc, rd, mr, at); err != nil {
			return fmt.Errorf("write %d payment transitions: %w", n, err)
		}
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
		if _, err := tx.Exec(ctx, `INSERT INTO payment_ledger (mpesa_receipt, payment_id, checkout_request_id, amount_cents, transaction_date)
			SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::bigint[], $5::timestamptz[])`,
			receipts, pids, checkouts, cents, dates); err != nil {
			return fmt.Errorf("record %d receipts: %w", n, err)
		}
	}
	if n := len(w.callbacks); n > 0 {
		ids, checkouts, codes, pids, outcomes := make([]int64, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, c := range w.callbacks {
			ids[i], checkouts[i], codes[i], pids[i], outcomes[i] = c.inboxID, c.checkout, c.resultCode, c.paymentID, c.outcome
		}
		if _, err := tx.Exec(ctx, `INSERT INTO payment_callbacks (inbox_id, checkout_request_id, result_code, payment_id, outcome)
			SELECT i, c, r, nullif(p, '')::uuid, o FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(i, c, r, p, o)`,
			ids, checkouts, codes, pids, outcomes); err != nil {
			return fmt.Errorf("record %d callback outcomes: %w", n, err)
		}
	}
	return outbox.WriteBatch(ctx, tx, w.events)
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
