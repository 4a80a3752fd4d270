package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/logging"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// createPaymentRequest is the body of POST /v1/payments.
type createPaymentRequest struct {
	JobID       string `json:"job_id"`
	CustomerID  string `json:"customer_id"`
	Phone       string `json:"phone"`
	Amount      *int64 `json:"amount"`
	Description string `json:"description"`
	// TechnicianID is optional: the job's technician, told by payment.paid
	// that the job is funded. Blank means not given.
	TechnicianID string `json:"technician_id"`
}

const maxPaymentIDLen = 128

func (r *createPaymentRequest) validate(maxAmount int64) (phone string, err error) {
	var f Fields
	r.JobID, r.CustomerID = strings.TrimSpace(r.JobID), strings.TrimSpace(r.CustomerID)
	if r.JobID == "" || len(r.JobID) > maxPaymentIDLen {
		f.Add("job_id", "required, at most 128 characters")
	}
	if r.CustomerID == "" || len(r.CustomerID) > maxPaymentIDLen {
		f.Add("customer_id", "required, at most 128 characters")
	}
	phone, perr := mpesa.NormalizeMSISDN(r.Phone)
	if perr != nil {
		f.Add("phone", "must be a Kenyan mobile number: 07XXXXXXXX, 01XXXXXXXX, +2547…, 2547… or 2541…")
	}
	switch {
	case r.Amount == nil:
		f.Add("amount", "required")
	case *r.Amount < 1 || *r.Amount > maxAmount:
		f.Add("amount", "must be whole shillings between 1 and "+strconv.FormatInt(maxAmount, 10))
	}
	if utf8.RuneCountInString(r.Description) > 200 {
		f.Add("description", "at most 200 characters")
	}
	r.TechnicianID = strings.TrimSpace(r.TechnicianID)
	if utf8.RuneCountInString(r.TechnicianID) > maxPaymentIDLen || strings.ContainsRune(r.TechnicianID, 0) {
		f.Add("technician_id", "optional, at most 128 characters, no NUL")
	}
	return phone, f.Err()
}

// paymentIDSpace is the UUID namespace of payment ids derived from an
// Idempotency-Key.
var paymentIDSpace = uuid.MustParse("6f1d2c8e-5a4b-4e0f-9c3d-2b7a8e1f0c55")

// handleCreatePayment starts an STK Push: it commits a pending payment, then
// enqueues its push task (task id = payment id) and answers 202 with the
// payment. If the enqueue fails the payment is still committed and the
// reconcile job drives it, so the 202 stands.
func handleCreatePayment(pool *pgxpool.Pool, tc *asynq.Client, queue string, maxAmount int64, now func() time.Time) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req createPaymentRequest
		if err := bindStrict(c, &req); err != nil {
			return err
		}
		phone, err := req.validate(maxAmount)
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		payments := store.NewPayments(pool)
		id := uuid.NewString()
		if key := c.Request().Header.Get("Idempotency-Key"); key != "" {
			// The id follows from (caller, key): if the stored answer of a
			// first attempt was lost, its retry finds the same payment
			// instead of prompting the customer a second time.
			id = uuid.NewSHA1(paymentIDSpace, []byte(principalName(c)+"\x00"+key)).String()
		}
		p, err := payments.Create(ctx, store.NewPayment{
			ID: id, JobID: req.JobID, CustomerID: req.CustomerID, Phone: phone,
			Amount: *req.Amount, Description: req.Description, TechnicianID: req.TechnicianID, CreatedAt: now(),
		})
		if store.IsUniqueViolation(err, "payments_pkey") {
			// Same caller and key. The idempotency record may be gone
			// (retention), so check here that this is the same request
			// (idempotency_match.go): a reused key never answers an
			// unrelated payment.
			p, err = payments.Get(ctx, id)
			if err == nil && !samePaymentRequest(p, req, phone) {
				return errKeyReused()
			}
		}
		if err != nil {
			return err
		}
		log := zerologCtx(c).With().Str(logging.FieldPaymentID, p.ID).Str(logging.FieldMSISDN, logging.MaskMSISDN(phone)).Logger()
		t, err := tasks.NewSTKPush(p.ID, queue)
		if err == nil {
			_, err = tc.EnqueueContext(ctx, t)
		}
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			log.Warn().Err(err).Msg("stk push enqueue failed; reconciliation will drive the payment")
		}
		log.Info().Msg("payment accepted")
		return c.JSON(http.StatusAccepted, p.View())
	}
}

// handleGetPayment answers the payment's current state (phone masked).
func handleGetPayment(pool *pgxpool.Pool) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := store.NewPayments(pool).Get(c.Request().Context(), c.Param("id"))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, p.View())
	}
}
