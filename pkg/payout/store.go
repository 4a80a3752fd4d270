package payout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"fundigo/pkg/store"
)

// Store holds the payout queries; over a pool or inside a transaction.
type Store struct{ db store.DB }

// NewStore returns the payout queries over db.
func NewStore(db store.DB) *Store { return &Store{db: db} }

const columns = `id::text, technician_id, job_id, phone, amount, remarks, status,
	COALESCE(failure_reason, ''), COALESCE(review_reason, ''), COALESCE(result_code, ''), COALESCE(result_desc, ''),
	COALESCE(mpesa_receipt, ''), originator_conversation_id, COALESCE(conversation_id, ''),
	submit_started_at, submitted_at, completed_at,
	COALESCE(status_query_originator_id, ''), COALESCE(status_query_conversation_id, ''), status_query_sent_at,
	status_queries, next_query_at, created_at, updated_at`

func scan(row pgx.Row) (Payout, error) {
	var p Payout
	err := row.Scan(&p.ID, &p.TechnicianID, &p.JobID, &p.Phone, &p.Amount, &p.Remarks, &p.Status,
		&p.FailureReason, &p.ReviewReason, &p.ResultCode, &p.ResultDesc, &p.MpesaReceipt,
		&p.OriginatorConversationID, &p.ConversationID, &p.SubmitStartedAt, &p.SubmittedAt, &p.CompletedAt,
		&p.StatusQueryOriginatorID, &p.StatusQueryConversation, &p.StatusQuerySentAt,
		&p.StatusQueries, &p.NextQueryAt, &p.CreatedAt, &p.UpdatedAt)
	return p, err
}

func one(row pgx.Row, what string) (Payout, error) {
	p, err := scan(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Payout{}, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return Payout{}, fmt.Errorf("%s: %w", what, err)
	}
	return p, nil
}

// New is what Create inserts.
type New struct {
	ID, TechnicianID, JobID, Phone, Remarks string
	Amount                                  int64
	CreatedAt                               time.Time
}

// Insert creates a pending payout; its OriginatorConversationID is derived
// from its id, so a retried create cannot mint a second one. A payout with
// the same id already there is returned with created=false.
func (s *Store) Insert(ctx context.Context, n New) (p Payout, created bool, err error) {
	p, err = one(s.db.QueryRow(ctx, `INSERT INTO payouts (id, technician_id, job_id, phone, amount, remarks,
			originator_conversation_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
		ON CONFLICT (id) DO NOTHING RETURNING `+columns,
		n.ID, n.TechnicianID, n.JobID, n.Phone, n.Amount, n.Remarks, OriginatorIDFor(n.ID), n.CreatedAt),
		"insert payout "+n.ID)
	if errors.Is(err, store.ErrNotFound) {
		p, err = s.Get(ctx, n.ID)
		return p, false, err
	}
	return p, err == nil, err
}

// OriginatorIDFor is the OriginatorConversationID of payout id: stable, so
// every attempt to send one payout carries the same id (Daraja refuses a
// duplicate), and unique per payout.
func OriginatorIDFor(id string) string { return "FGO-" + id }

// Get loads payout id.
func (s *Store) Get(ctx context.Context, id string) (Payout, error) {
	uid, err := ParseID(id)
	if err != nil {
		return Payout{}, err
	}
	return one(s.db.QueryRow(ctx, `SELECT `+columns+` FROM payouts WHERE id = $1`, uid), "get payout "+id)
}

// GetForUpdate loads and locks payout id.
func (s *Store) GetForUpdate(ctx context.Context, id string) (Payout, error) {
	uid, err := ParseID(id)
	if err != nil {
		return Payout{}, err
	}
	return one(s.db.QueryRow(ctx, `SELECT `+columns+` FROM payouts WHERE id = $1 FOR UPDATE`, uid), "lock payout "+id)
}

// ByOriginatorForUpdate loads and locks the payout of an OriginatorConversationID.
func (s *Store) ByOriginatorForUpdate(ctx context.Context, originatorID string) (Payout, error) {
	return one(s.db.QueryRow(ctx, `SELECT `+columns+` FROM payouts WHERE originator_conversation_id = $1 FOR UPDATE`,
		originatorID), "lock payout of originator conversation "+originatorID)
}

// ByConversationForUpdate loads and locks the payout Daraja acknowledged
// with conversationID.
func (s *Store) ByConversationForUpdate(ctx context.Context, conversationID string) (Payout, error) {
	return one(s.db.QueryRow(ctx, `SELECT `+columns+` FROM payouts WHERE conversation_id = $1 FOR UPDATE`,
		conversationID), "lock payout of conversation "+conversationID)
}

// ByStatusQueryForUpdate loads and locks the payout whose last status query
// had OriginatorConversationID queryID.
func (s *Store) ByStatusQueryForUpdate(ctx context.Context, queryID string) (Payout, error) {
	return one(s.db.QueryRow(ctx, `SELECT `+columns+` FROM payouts WHERE status_query_originator_id = $1 FOR UPDATE`,
		queryID), "lock payout of status query "+queryID)
}

// ClaimSubmit marks a pending, never-claimed payout as being sent, and
// returns it; store.ErrStaleTransition if it was claimed before or is no
// longer pending. Commit before sending.
func (s *Store) ClaimSubmit(ctx context.Context, id string, now time.Time) (Payout, error) {
	uid, err := ParseID(id)
	if err != nil {
		return Payout{}, err
	}
	p, err := one(s.db.QueryRow(ctx, `UPDATE payouts SET submit_started_at = $2, updated_at = $2
		WHERE id = $1 AND status = 'pending' AND submit_started_at IS NULL RETURNING `+columns, uid, now),
		"claim payout "+id)
	if errors.Is(err, store.ErrNotFound) {
		return Payout{}, fmt.Errorf("claim payout %s: %w", id, store.ErrStaleTransition)
	}
	return p, err
}

// ReleaseSubmit undoes a claim whose request certainly never reached Daraja
// (mpesa.ErrNotSent), so a retry may send it.
func (s *Store) ReleaseSubmit(ctx context.Context, id string, now time.Time) error {
	uid, err := ParseID(id)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `UPDATE payouts SET submit_started_at = NULL, updated_at = $2
		WHERE id = $1 AND status = 'pending'`, uid, now)
	if err != nil {
		return fmt.Errorf("release payout %s: %w", id, err)
	}
	return nil
}

// Change is a conditional transition: applied only while the payout is in
// one of From. Empty fields leave their column as is.
type Change struct {
	From           []Status
	To             Status
	ConversationID string
	ResultCode     string
	ResultDesc     string
	Receipt        string
	FailureReason  string
	ReviewReason   string
	CompletedAt    *time.Time
	SubmittedAt    *time.Time
	// NextQueryAt schedules the next status query (nil: unchanged).
	NextQueryAt *time.Time
	// ClearNextQuery stops status queries (final statuses).
	ClearNextQuery bool
	At             time.Time
}

// Transition applies c to payout id and returns the new row;
// store.ErrStaleTransition when the payout is not in c.From.
func (s *Store) Transition(ctx context.Context, id string, c Change) (Payout, error) {
	uid, err := ParseID(id)
	if err != nil {
		return Payout{}, err
	}
	from := make([]string, len(c.From))
	for i, f := range c.From {
		from[i] = string(f)
	}
	p, err := one(s.db.QueryRow(ctx, `UPDATE payouts SET status = $3,
			conversation_id = COALESCE(NULLIF($4, ''), conversation_id),
			result_code = COALESCE(NULLIF($5, ''), result_code),
			result_desc = COALESCE(NULLIF($6, ''), result_desc),
			mpesa_receipt = COALESCE(NULLIF($7, ''), mpesa_receipt),
			failure_reason = COALESCE(NULLIF($8, ''), failure_reason),
			review_reason = COALESCE(NULLIF($9, ''), review_reason),
			completed_at = COALESCE($10, completed_at),
			submitted_at = COALESCE($11, submitted_at),
			next_query_at = CASE WHEN $13 THEN NULL ELSE COALESCE($12, next_query_at) END,
			updated_at = $14
		WHERE id = $1 AND status = ANY($2::text[]) RETURNING `+columns,
		uid, from, string(c.To), c.ConversationID, c.ResultCode, c.ResultDesc, c.Receipt, c.FailureReason,
		c.ReviewReason, c.CompletedAt, c.SubmittedAt, c.NextQueryAt, c.ClearNextQuery, c.At),
		"transition payout "+id)
	if errors.Is(err, store.ErrNotFound) {
		return Payout{}, fmt.Errorf("transition payout %s to %s: %w", id, c.To, store.ErrStaleTransition)
	}
	return p, err
}

// RecordStatusQuery stores the ids of the status query just sent for
// payout id and when to ask again.
func (s *Store) RecordStatusQuery(ctx context.Context, id, queryID, conversationID string, sentAt, next time.Time) error {
	uid, err := ParseID(id)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `UPDATE payouts SET status_query_originator_id = $2,
			status_query_conversation_id = NULLIF($3, ''), status_query_sent_at = $4,
			status_queries = status_queries + 1, next_query_at = $5, updated_at = $4
		WHERE id = $1`, uid, queryID, conversationID, sentAt, next)
	if err != nil {
		return fmt.Errorf("record status query of payout %s: %w", id, err)
	}
	return nil
}

// Postpone moves payout id's next status query to next.
func (s *Store) Postpone(ctx context.Context, id string, next time.Time) error {
	uid, err := ParseID(id)
	if err != nil {
		return err
	}
	if _, err := s.db.Exec(ctx, `UPDATE payouts SET next_query_at = $2 WHERE id = $1`, uid, next); err != nil {
		return fmt.Errorf("postpone payout %s: %w", id, err)
	}
	return nil
}

// Due returns up to limit open payouts whose next status query is due, or
// that are pending with a lost task (created before pendingBefore), oldest first.
func (s *Store) Due(ctx context.Context, now, pendingBefore time.Time, limit int) ([]Payout, error) {
	rows, err := s.db.Query(ctx, `SELECT `+columns+` FROM payouts
		WHERE status IN ('pending', 'submitted', 'unknown')
		  AND ((status <> 'pending' AND next_query_at <= $1)
		    OR (status = 'pending' AND created_at < $2))
		ORDER BY created_at LIMIT $3`, now, pendingBefore, limit)
	if err != nil {
		return nil, fmt.Errorf("list due payouts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Payout, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("list due payouts: %w", err)
	}
	return out, nil
}

// RecordReceipt writes the payout's receipt to the one ledger; false when
// the receipt was already recorded (for this payout: a duplicate; for
// anything else: conflicting evidence, owner says whose).
func (s *Store) RecordReceipt(ctx context.Context, id, receipt string, amountCents int64, at *time.Time) (owner string, inserted bool, err error) {
	uid, err := ParseID(id)
	if err != nil {
		return "", false, err
	}
	err = s.db.QueryRow(ctx, `INSERT INTO payment_ledger (mpesa_receipt, payout_id, amount_cents, transaction_date, channel)
		VALUES ($1, $2, $3, $4, 'b2c') ON CONFLICT (mpesa_receipt) DO NOTHING RETURNING payout_id::text`,
		receipt, uid, amountCents, at).Scan(&owner)
	if err == nil {
		return owner, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", false, fmt.Errorf("record receipt of payout %s: %w", id, err)
	}
	if err := s.db.QueryRow(ctx, `SELECT COALESCE(payout_id::text, 'payment:' || payment_id::text)
		FROM payment_ledger WHERE mpesa_receipt = $1`, receipt).Scan(&owner); err != nil {
		return "", false, fmt.Errorf("find receipt owner for payout %s: %w", id, err)
	}
	return owner, false, nil
}

// CountReceipts returns how many ledger rows payout id has.
func (s *Store) CountReceipts(ctx context.Context, id string) (int, error) {
	uid, err := ParseID(id)
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM payment_ledger WHERE payout_id = $1`, uid).Scan(&n); err != nil {
		return 0, fmt.Errorf("count receipts of payout %s: %w", id, err)
	}
	return n, nil
}

// Balances are the account balances a B2C result reported, in cents.
type Balances struct {
	Utility, Working, Charges *int64
}

// RecordBalances stores the balances reported with payout id's result.
func (s *Store) RecordBalances(ctx context.Context, id string, b Balances, at time.Time) error {
	if b.Utility == nil && b.Working == nil && b.Charges == nil {
		return nil
	}
	uid, err := ParseID(id)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `INSERT INTO payout_balances (payout_id, utility_cents, working_cents, charges_cents, reported_at)
		VALUES ($1, $2, $3, $4, $5)`, uid, b.Utility, b.Working, b.Charges, at)
	if err != nil {
		return fmt.Errorf("record balances of payout %s: %w", id, err)
	}
	return nil
}
