package payment

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
	"fundigo/pkg/validation"
)

// FieldError is one invalid field of an input.
type FieldError = validation.Field

// ValidationError lists every invalid field of an input (the one type every
// domain uses; entry points map it once).
type ValidationError = validation.Error

// CreateRequest is the input of Create (the body of POST /v1/payments).
type CreateRequest struct {
	JobID       string `json:"job_id"`
	CustomerID  string `json:"customer_id"`
	Phone       string `json:"phone"`
	Amount      *int64 `json:"amount"`
	Description string `json:"description"`
	// TechnicianID is optional: the job's technician, told by payment.paid
	// that the job is funded. Blank means not given.
	TechnicianID string `json:"technician_id"`
	// Method is "stk" (default) or "paybill": no push, the payment waits as
	// awaiting_payment for a C2B payment to AccountReference.
	Method Method `json:"method"`
	// AccountReference is the Pay Bill account number the customer types
	// (paybill only; default: the job id, upper-cased). Matched trimmed and
	// upper-cased.
	AccountReference string `json:"account_reference"`
	// Owner and OwnerUser are not part of the body: the entry point sets
	// the principal that calls (see New.Owner).
	Owner     string `json:"-"`
	OwnerUser string `json:"-"`
}

// MaxAccountReference is the longest Pay Bill account number (Daraja's
// BillRefNumber holds 20 characters).
const MaxAccountReference = 20

// MaxIDLen is the longest job, customer or technician id a payment accepts.
const MaxIDLen = 128

// Validate trims the request and checks every field against maxAmount
// (whole KES); it returns the phone normalised to 254XXXXXXXXX, or a
// *ValidationError listing every invalid field.
func (r *CreateRequest) Validate(maxAmount int64) (phone string, err error) {
	var f []FieldError
	add := func(field, msg string) { f = append(f, FieldError{Field: field, Message: msg}) }
	r.JobID, r.CustomerID = strings.TrimSpace(r.JobID), strings.TrimSpace(r.CustomerID)
	if r.JobID == "" || len(r.JobID) > MaxIDLen {
		add("job_id", "required, at most 128 characters")
	}
	if r.CustomerID == "" || len(r.CustomerID) > MaxIDLen {
		add("customer_id", "required, at most 128 characters")
	}
	phone, perr := mpesa.NormalizeMSISDN(r.Phone)
	if perr != nil {
		add("phone", "must be a Kenyan mobile number: 07XXXXXXXX, 01XXXXXXXX, +2547…, 2547… or 2541…")
	}
	switch {
	case r.Amount == nil:
		add("amount", "required")
	case *r.Amount < 1 || *r.Amount > maxAmount:
		add("amount", "must be whole shillings between 1 and "+strconv.FormatInt(maxAmount, 10))
	}
	if utf8.RuneCountInString(r.Description) > 200 {
		add("description", "at most 200 characters")
	}
	r.TechnicianID = strings.TrimSpace(r.TechnicianID)
	if utf8.RuneCountInString(r.TechnicianID) > MaxIDLen || strings.ContainsRune(r.TechnicianID, 0) {
		add("technician_id", "optional, at most 128 characters, no NUL")
	}
	switch r.Method {
	case "":
		r.Method = MethodSTK
	case MethodSTK, MethodPaybill:
	default:
		add("method", "must be stk or paybill")
	}
	r.AccountReference = mpesa.NormalizeAccountRef(r.AccountReference)
	switch {
	case r.Method != MethodPaybill && r.AccountReference != "":
		add("account_reference", "only with method paybill")
	case r.Method == MethodPaybill && r.AccountReference == "":
		r.AccountReference = mpesa.NormalizeAccountRef(r.JobID)
	}
	if r.Method == MethodPaybill && (utf8.RuneCountInString(r.AccountReference) > MaxAccountReference || strings.ContainsRune(r.AccountReference, 0)) {
		add("account_reference", "at most 20 characters (default: the job id, which is then too long)")
	}
	if len(f) > 0 {
		return "", &ValidationError{Subject: "payment request", Fields: f}
	}
	return phone, nil
}

// ErrKeyReused: the payment derived from (caller, Idempotency-Key) exists
// but was made by a different request (the key came back after its record's
// retention). Entry points answer a conflict; the payment is not returned.
var ErrKeyReused = errors.New("idempotency key already used with a different request")

// sameRequest reports whether p is what r (validated, phone normalised)
// would have created; compared canonically, field by field.
func sameRequest(p Payment, r CreateRequest, phone string) bool {
	return p.JobID == r.JobID && p.CustomerID == r.CustomerID && p.Phone == phone &&
		r.Amount != nil && p.Amount == *r.Amount && p.Description == r.Description &&
		p.TechnicianID == r.TechnicianID && p.Method == r.Method && p.AccountReference == r.AccountReference
}

// idSpace is the UUID namespace of payment ids derived from an
// Idempotency-Key.
var idSpace = uuid.MustParse("6f1d2c8e-5a4b-4e0f-9c3d-2b7a8e1f0c55")

// IDFor returns the payment id of a create request: derived from (caller,
// Idempotency-Key) when a key is given, so that a retry whose stored answer
// was lost finds the same payment instead of prompting the customer a second
// time; random otherwise.
func IDFor(caller, idempotencyKey string) string {
	return store.KeyedID(idSpace, caller, idempotencyKey)
}

// Create validates r, commits a pending payment with id (see IDFor), then
// enqueues its push task (task id = payment id). A payment that already
// exists with id is returned as is (same caller and key). If the enqueue
// fails, the payment is still committed and reconciliation drives it, so the
// payment is returned without error.
func Create(ctx context.Context, d Deps, id string, r CreateRequest) (Payment, error) {
	phone, err := r.Validate(d.Config.MaxAmount)
	if err != nil {
		return Payment{}, err
	}
	ps := NewStore(d.Pool)
	n := New{
		ID: id, JobID: r.JobID, CustomerID: r.CustomerID, Phone: phone,
		Amount: *r.Amount, Description: r.Description, TechnicianID: r.TechnicianID, CreatedAt: d.now(),
		Method: r.Method, AccountReference: r.AccountReference,
		Owner: r.Owner, OwnerUser: r.OwnerUser,
	}
	var p Payment
	if d.Caps.enabled() && r.Method == MethodSTK {
		p, err = createWithinCaps(ctx, d.Pool, d.Caps, n) // *CapError: nothing created, nothing pushed
	} else {
		p, err = ps.Create(ctx, n)
	}
	if store.IsUniqueViolation(err, "payments_pkey") || errors.Is(err, errExists) {
		// Same caller and key. The idempotency record may be gone
		// (retention), so check that this is the same request: a reused
		// key never answers an unrelated payment.
		p, err = ps.Get(ctx, id)
		if err == nil && !sameRequest(p, r, phone) {
			return Payment{}, fmt.Errorf("payment %s: %w", id, ErrKeyReused)
		}
	}
	if err != nil {
		return Payment{}, err
	}
	log := d.Log.With().Str(logging.FieldPaymentID, p.ID).Str(logging.FieldMSISDN, logging.MaskMSISDN(phone)).Logger()
	if d.Tasks != nil && p.Method == MethodSTK {
		t, err := tasks.NewSTKPush(ctx, p.ID, d.Queues.Critical)
		if err == nil {
			_, err = d.Tasks.EnqueueContext(ctx, t)
		}
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			log.Warn().Err(fmt.Errorf("enqueue stk push: %w", err)).Msg("stk push enqueue failed; reconciliation will drive the payment")
		}
	}
	log.Info().Msg("payment accepted")
	return p, nil
}
