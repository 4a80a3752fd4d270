package payout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/outbox"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
	"fundigo/pkg/validation"
)

// CreateRequest is the body of POST /v1/payouts.
type CreateRequest struct {
	TechnicianID string `json:"technician_id"`
	Phone        string `json:"phone"`
	Amount       *int64 `json:"amount"`
	JobID        string `json:"job_id"`
	Remarks      string `json:"remarks"`
}

// MaxIDLen is the longest technician or job id accepted.
const MaxIDLen = 128

// MinAmount is Daraja's smallest B2C amount (KES).
const MinAmount = 10

// Validate trims r and checks every field; it returns the phone normalised
// to 254XXXXXXXXX or a *validation.Error listing every invalid field.
func (r *CreateRequest) Validate(maxAmount int64) (string, error) {
	var f []validation.Field
	add := func(field, msg string) { f = append(f, validation.Field{Field: field, Message: msg}) }
	r.TechnicianID, r.JobID, r.Remarks = strings.TrimSpace(r.TechnicianID), strings.TrimSpace(r.JobID), strings.TrimSpace(r.Remarks)
	if r.TechnicianID == "" || utf8.RuneCountInString(r.TechnicianID) > MaxIDLen || strings.ContainsRune(r.TechnicianID, 0) {
		add("technician_id", "required, at most 128 characters")
	}
	if r.JobID == "" || utf8.RuneCountInString(r.JobID) > MaxIDLen || strings.ContainsRune(r.JobID, 0) {
		add("job_id", "required, at most 128 characters")
	}
	phone, err := mpesa.NormalizeMSISDN(r.Phone)
	if err != nil {
		add("phone", "must be a Kenyan mobile number: 07XXXXXXXX, 01XXXXXXXX, +2547…, 2547… or 2541…")
	}
	switch {
	case r.Amount == nil:
		add("amount", "required")
	case *r.Amount < MinAmount || *r.Amount > maxAmount:
		add("amount", "must be whole shillings between "+strconv.Itoa(MinAmount)+" and "+strconv.FormatInt(maxAmount, 10))
	}
	if utf8.RuneCountInString(r.Remarks) > 100 || strings.ContainsRune(r.Remarks, 0) {
		add("remarks", "optional, at most 100 characters")
	}
	if len(f) > 0 {
		return "", &validation.Error{Subject: "payout request", Fields: f}
	}
	return phone, nil
}

// ErrKeyReused: the payout derived from (caller, Idempotency-Key) exists but
// was made by a different request.
var ErrKeyReused = errors.New("idempotency key already used with a different request")

var idSpace = uuid.MustParse("0b8f5c0e-3f7a-4d52-9a61-7c2e4d9b1a38")

// IDFor returns the payout id of a create request: derived from (caller,
// Idempotency-Key) when a key is given, so a retry finds the same payout
// (and the same OriginatorConversationID) instead of paying twice.
func IDFor(caller, idempotencyKey string) string {
	return store.KeyedID(idSpace, caller, idempotencyKey)
}

// Create validates r, commits a pending payout with id (see IDFor) and
// enqueues its submit task (reconciliation re-drives it if that fails). A
// payout that already exists with id is returned as is when it is the same
// request, else ErrKeyReused.
func Create(ctx context.Context, d Deps, id string, r CreateRequest) (Payout, error) {
	phone, err := r.Validate(d.Config.MaxAmount)
	if err != nil {
		return Payout{}, err
	}
	p, created, err := NewStore(d.Pool).Insert(ctx, New{ID: id, TechnicianID: r.TechnicianID, JobID: r.JobID,
		Phone: phone, Remarks: r.Remarks, Amount: *r.Amount, CreatedAt: d.now()})
	if err != nil {
		return Payout{}, err
	}
	if !created && (p.TechnicianID != r.TechnicianID || p.JobID != r.JobID || p.Phone != phone ||
		p.Amount != *r.Amount || p.Remarks != r.Remarks) {
		return Payout{}, fmt.Errorf("payout %s: %w", id, ErrKeyReused)
	}
	log := d.Log.With().Str(logging.FieldPayoutID, p.ID).Str(logging.FieldMSISDN, logging.MaskMSISDN(phone)).Logger()
	enqueueSubmit(ctx, d, p.ID)
	if created {
		log.Info().Int64("amount", p.Amount).Msg("payout accepted")
	}
	return p, nil
}

// enqueueSubmit enqueues the submit task of id; a failure is logged and
// left to reconciliation.
func enqueueSubmit(ctx context.Context, d Deps, id string) {
	if d.Tasks == nil {
		return
	}
	t, err := tasks.NewPayoutSubmit(id, d.Queues.Critical)
	if err == nil {
		_, err = d.Tasks.EnqueueContext(ctx, t)
	}
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
		d.Log.Warn().Err(fmt.Errorf("enqueue payout submit: %w", err)).Str(logging.FieldPayoutID, id).
			Msg("payout submit enqueue failed; reconciliation will drive it")
	}
}

// emit writes the payout.* event of p's status in tx (deterministic
// message id: one per payout and status).
func emit(ctx context.Context, tx pgx.Tx, p Payout) error {
	ev := p.View()
	if ev.RoutingKey() == "" {
		return nil
	}
	m, err := outbox.EventMessage(ev)
	if err != nil {
		return err
	}
	return outbox.Write(ctx, tx, m)
}
