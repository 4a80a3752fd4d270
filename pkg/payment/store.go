package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"fundigo/pkg/store"
)

// Store holds the payment queries (payments, callbacks, orphans, ledger).
// Every id is parsed in Go and bound as a typed uuid, so lookups use the
// primary key index; a malformed id is store.ErrNotFound without a query.
type Store struct{ db DB }

// NewStore returns the payment queries over db (a pool or a transaction).
func NewStore(db DB) *Store { return &Store{db: db} }

const paymentColumns = `id::text, job_id, customer_id, phone, amount, description, status,
	coalesce(failure_reason, ''), coalesce(review_reason, ''), coalesce(result_code, ''),
	coalesce(result_desc, ''), coalesce(mpesa_receipt, ''), coalesce(merchant_request_id, ''),
	coalesce(checkout_request_id, ''), push_ambiguous, push_started_at, pushed_at, last_queried_at, created_at, updated_at,
	coalesce(technician_id, ''), method, coalesce(account_reference, '')`

func scanPayment(row pgx.Row) (Payment, error) {
	var p Payment
	err := row.Scan(&p.ID, &p.JobID, &p.CustomerID, &p.Phone, &p.Amount, &p.Description, &p.Status,
		&p.FailureReason, &p.ReviewReason, &p.ResultCode, &p.ResultDesc, &p.MpesaReceipt,
		&p.MerchantRequestID, &p.CheckoutRequestID, &p.PushAmbiguous, &p.PushStartedAt, &p.PushedAt, &p.LastQueriedAt,
		&p.CreatedAt, &p.UpdatedAt, &p.TechnicianID, &p.Method, &p.AccountReference)
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, store.ErrNotFound
	}
	return p, err
}

func collectPayments(rows pgx.Rows, err error) ([]Payment, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Payment, error) { return scanPayment(r) })
}

// NewPayment is what Create needs; ID is chosen by the caller (a UUID) so the
// Asynq task id can equal it.
type NewPayment struct {
	ID          string
	JobID       string
	CustomerID  string
	Phone       string
	Amount      int64
	Description string
	CreatedAt   time.Time
	// TechnicianID is optional: "" stores NULL.
	TechnicianID string
}

// Create inserts a pending payment.
func (s *Store) Create(ctx context.Context, n New) (Payment, error) {
	uid, err := ParseID(n.ID)
	if err != nil {
		return Payment{}, err
	}
	// One statement writes the payment and, with an owner, its push task's
	// owners (one round trip and one commit, where they were two).
	p, err := scanPayment(s.db.QueryRow(ctx, `
		WITH p AS (
			INSERT INTO payments (id, job_id, customer_id, phone, amount, description, technician_id, created_at, updated_at,
				method, account_reference, status)
			VALUES ($1, $2, $3, $4, $5, $6, nullif($7, ''), $8, $8, $9, nullif($10, ''),
				CASE WHEN $9 = 'paybill' THEN 'awaiting_payment' ELSE 'pending' END)
			RETURNING *),
		owner AS (
			INSERT INTO task_owners (task_id, principal, user_id)
			SELECT p.id::text, $11, coalesce(nullif($12, ''), p.customer_id) FROM p WHERE $11 <> ''
			ON CONFLICT (task_id) DO NOTHING)
		SELECT `+paymentColumns+` FROM p`,
		uid, n.JobID, n.CustomerID, n.Phone, n.Amount, n.Description, n.TechnicianID, n.CreatedAt, n.method(), n.AccountReference,
		n.Owner, n.OwnerUser))
	if err != nil {
		return Payment{}, fmt.Errorf("create payment %s: %w", n.ID, err)
	}
	return p, nil
}

// Get returns payment id, or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Payment, error) {
	uid, err := ParseID(id)
	if err != nil {
		return Payment{}, err
	}
	p, err := scanPayment(s.db.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, uid))
	if err != nil {
		return Payment{}, fmt.Errorf("get payment %s: %w", id, err)
	}
	return p, nil
}

// GetByCheckout returns the payment with checkoutRequestID, or
// store.ErrNotFound.
func (s *Store) GetByCheckout(ctx context.Context, checkoutRequestID string) (Payment, error) {
	p, err := scanPayment(s.db.QueryRow(ctx,
		`SELECT `+paymentColumns+` FROM payments WHERE checkout_request_id = $1`, checkoutRequestID))
	if err != nil {
		return Payment{}, fmt.Errorf("get payment by checkout_request_id %s: %w", checkoutRequestID, err)
	}
	return p, nil
}

// GetByCheckoutForUpdate returns the payment with checkoutRequestID, locked
// for the rest of the transaction, or store.ErrNotFound.
func (s *Store) GetByCheckoutForUpdate(ctx context.Context, checkoutRequestID string) (Payment, error) {
	p, err := scanPayment(s.db.QueryRow(ctx,
		`SELECT `+paymentColumns+` FROM payments WHERE checkout_request_id = $1 FOR UPDATE`, checkoutRequestID))
	if err != nil {
		return Payment{}, fmt.Errorf("get payment by checkout_request_id %s: %w", checkoutRequestID, err)
	}
	return p, nil
}

// GetForUpdate returns payment id locked for the rest of the transaction.
func (s *Store) GetForUpdate(ctx context.Context, id string) (Payment, error) {
	uid, err := ParseID(id)
	if err != nil {
		return Payment{}, err
	}
	p, err := scanPayment(s.db.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1 FOR UPDATE`, uid))
	if err != nil {
		return Payment{}, fmt.Errorf("get payment %s for update: %w", id, err)
	}
	return p, nil
}

// LockCheckout serialises, until the transaction ends, everyone handling
// checkoutRequestID: the push worker storing it and the callback worker
// looking it up (or filing an orphan) never miss each other's commit.
func (s *Store) LockCheckout(ctx context.Context, checkoutRequestID string) error {
	if _, err := s.db.Exec(ctx, lockCheckoutSQL, checkoutRequestID); err != nil {
		return fmt.Errorf("lock checkout_request_id %s: %w", checkoutRequestID, err)
	}
	return nil
}

const lockCheckoutSQL = `SELECT pg_advisory_xact_lock(hashtextextended('stk:' || $1, 0))`

// transition runs a conditional update of payment id from one of from and
// returns the updated row, or store.ErrStaleTransition if it was not in from.
func (s *Store) transition(ctx context.Context, id string, from []Status, set string, args ...any) (Payment, error) {
	fromText := make([]string, len(from))
	for i, f := range from {
		fromText[i] = string(f)
	}
	uid, err := ParseID(id)
	if err != nil {
		return Payment{}, err
	}
	all := append([]any{uid, fromText}, args...)
	p, err := scanPayment(s.db.QueryRow(ctx, transitionSQL(set), all...))
	if errors.Is(err, store.ErrNotFound) {
		return Payment{}, store.ErrStaleTransition
	}
	return p, err
}

func transitionSQL(set string) string {
	return `UPDATE payments SET ` + set + `
		WHERE id = $1 AND status = ANY($2::text[])
		RETURNING ` + paymentColumns
}

// BeginPush records, before the STK request is sent, that it is about to
// be: pending with no push started -> push started. store.ErrStaleTransition means
// the payment is no longer pending or a push was already started (whose
// outcome is unknown): do not send.
func (s *Store) BeginPush(ctx context.Context, id string, at time.Time) (Payment, error) {
	uid, err := ParseID(id)
	if err != nil {
		return Payment{}, err
	}
	p, err := scanPayment(s.db.QueryRow(ctx, beginPushSQL, []uuid.UUID{uid}, at))
	if errors.Is(err, store.ErrNotFound) {
		return Payment{}, fmt.Errorf("begin push of payment %s: %w", id, store.ErrStaleTransition)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("begin push of payment %s: %w", id, err)
	}
	return p, nil
}

// beginPushSQL starts the pushes of the ids in $1 at $2 (BeginPush, and
// Pusher for a group).
const beginPushSQL = `UPDATE payments SET push_started_at = $2, updated_at = $2
	WHERE id = ANY($1::uuid[]) AND status = 'pending' AND push_started_at IS NULL
	RETURNING ` + paymentColumns

// AbortPush undoes BeginPush after a request that certainly did not reach
// Daraja, so a retry may send it.
func (s *Store) AbortPush(ctx context.Context, id string) error {
	uid, err := ParseID(id)
	if err != nil {
		return err
	}
	if _, err := s.db.Exec(ctx, `UPDATE payments SET push_started_at = NULL
		WHERE id = $1 AND status = 'pending'`, uid); err != nil {
		return fmt.Errorf("abort push of payment %s: %w", id, err)
	}
	return nil
}

// MarkAwaiting records Daraja's acknowledgement: pending -> awaiting_callback.
// checkoutRequestID is empty for an ambiguous push (ambiguous = true).
func (s *Store) MarkAwaiting(ctx context.Context, id, merchantRequestID, checkoutRequestID string, ambiguous bool, at time.Time) (Payment, error) {
	p, err := s.transition(ctx, id, []Status{Pending}, markAwaitingSet, merchantRequestID, checkoutRequestID, ambiguous, at)
	if err != nil {
		return Payment{}, fmt.Errorf("mark payment %s awaiting callback: %w", id, err)
	}
	return p, nil
}

const markAwaitingSet = `
		status = 'awaiting_callback', merchant_request_id = nullif($3, ''),
		checkout_request_id = nullif($4, ''), push_ambiguous = $5, pushed_at = $6, updated_at = $6`

// MarkPaid: awaiting_callback -> paid.
func (s *Store) MarkPaid(ctx context.Context, id string, o Outcome) (Payment, error) {
	p, err := s.transition(ctx, id, []Status{AwaitingCallback}, `
		status = 'paid', result_code = $3, result_desc = $4, mpesa_receipt = nullif($5, ''),
		failure_reason = NULL, updated_at = $6`,
		o.ResultCode, o.ResultDesc, o.Receipt, o.At)
	if err != nil {
		return Payment{}, fmt.Errorf("mark payment %s paid: %w", id, err)
	}
	return p, nil
}

// MarkFailed: pending | awaiting_callback -> failed with o.Reason.
func (s *Store) MarkFailed(ctx context.Context, id string, o Outcome) (Payment, error) {
	p, err := s.transition(ctx, id, []Status{Pending, AwaitingCallback}, `
		status = 'failed', result_code = nullif($3, ''), result_desc = nullif($4, ''),
		failure_reason = $5, updated_at = $6`,
		o.ResultCode, o.ResultDesc, o.Reason, o.At)
	if err != nil {
		return Payment{}, fmt.Errorf("mark payment %s failed: %w", id, err)
	}
	return p, nil
}

// MarkNeedsReview: awaiting_callback | failed | paid -> needs_review with
// o.Reason as review_reason. The failure reason of a failed payment is kept;
// a receipt already recorded is not overwritten.
func (s *Store) MarkNeedsReview(ctx context.Context, id string, o Outcome) (Payment, error) {
	p, err := s.transition(ctx, id, []Status{AwaitingCallback, Failed, Paid}, `
		status = 'needs_review', review_reason = $5,
		result_code = coalesce(nullif($3, ''), result_code), result_desc = coalesce(nullif($4, ''), result_desc),
		mpesa_receipt = coalesce(mpesa_receipt, nullif($7, '')), updated_at = $6`,
		o.ResultCode, o.ResultDesc, o.Reason, o.At, o.Receipt)
	if err != nil {
		return Payment{}, fmt.Errorf("mark payment %s needs review: %w", id, err)
	}
	return p, nil
}

// SetReceipt fills the receipt of a payment that was marked paid without one
// (by STK Query); a payment that has one keeps it.
func (s *Store) SetReceipt(ctx context.Context, id, receipt string, at time.Time) error {
	uid, err := ParseID(id)
	if err != nil {
		return err
	}
	if _, err := s.db.Exec(ctx, `UPDATE payments SET mpesa_receipt = $2, updated_at = $3
		WHERE id = $1 AND mpesa_receipt IS NULL`, uid, receipt, at); err != nil {
		return fmt.Errorf("set receipt of payment %s: %w", id, err)
	}
	return nil
}

// LinkCheckout gives an ambiguous push the CheckoutRequestID of the callback
// that was matched to it.
func (s *Store) LinkCheckout(ctx context.Context, id, checkoutRequestID, merchantRequestID string, at time.Time) (Payment, error) {
	uid, err := ParseID(id)
	if err != nil {
		return Payment{}, err
	}
	p, err := scanPayment(s.db.QueryRow(ctx, `
		UPDATE payments SET checkout_request_id = $2, merchant_request_id = nullif($3, ''),
			push_ambiguous = false, updated_at = $4
		WHERE id = $1 AND checkout_request_id IS NULL
		RETURNING `+paymentColumns, uid, checkoutRequestID, merchantRequestID, at))
	if errors.Is(err, store.ErrNotFound) {
		return Payment{}, fmt.Errorf("link payment %s to %s: %w", id, checkoutRequestID, store.ErrStaleTransition)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("link payment %s to %s: %w", id, checkoutRequestID, err)
	}
	return p, nil
}

const lockCheckoutsSQL = `SELECT count(pg_advisory_xact_lock(h)) FROM (
		SELECT DISTINCT hashtextextended('stk:' || k, 0) AS h FROM unnest($1::text[]) k ORDER BY 1) s`

// LockCheckouts takes the CheckoutRequestID locks of LockCheckout for every
// key, in one statement and in a fixed (hash) order, so concurrent batches
// never deadlock on each other.
func (s *Store) LockCheckouts(ctx context.Context, keys []string) error {
	if _, err := s.db.Exec(ctx, lockCheckoutsSQL, keys); err != nil {
		return fmt.Errorf("lock %d checkout request ids: %w", len(keys), err)
	}
	return nil
}

// ByCheckoutsForUpdate returns the payments of checkoutRequestIDs by
// CheckoutRequestID, locked (in id order) for the rest of the transaction.
func (s *Store) ByCheckoutsForUpdate(ctx context.Context, checkoutRequestIDs []string) (map[string]Payment, error) {
	out := make(map[string]Payment, len(checkoutRequestIDs))
	if len(checkoutRequestIDs) == 0 {
		return out, nil
	}
	ps, err := collectPayments(s.db.Query(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE checkout_request_id = ANY($1::text[]) ORDER BY id FOR UPDATE`, checkoutRequestIDs))
	if err != nil {
		return nil, fmt.Errorf("lock payments of %d checkout request ids: %w", len(checkoutRequestIDs), err)
	}
	for _, p := range ps {
		out[p.CheckoutRequestID] = p
	}
	return out, nil
}

func (n New) method() string {
	if n.Method == "" {
		return string(MethodSTK)
	}
	return string(n.Method)
}
