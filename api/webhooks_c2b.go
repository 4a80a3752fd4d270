package api

import (
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/inbox"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/payment"
)

// handleC2BValidation is POST /v1/webhooks/daraja/c2b/validation/{token}: a
// read-only decision, answered well within Daraja's ~8 s: 200
// {"ResultCode":"0","ResultDesc":"Accepted"} when the account names a Pay
// Bill payment awaiting this amount, else 200 with ResultCode C2B00012
// (unknown account) or C2B00013 (another amount) and "Rejected". A body
// that is not a C2B payment is quarantined and answered 400. It marks
// nothing paid: only the confirmation does.
func handleC2BValidation(token []byte, pool *pgxpool.Pool, quarantineCap int) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(token) == 0 || subtle.ConstantTimeCompare([]byte(c.Param("token")), token) != 1 {
			return NewProblem(http.StatusNotFound, "no such route")
		}
		body, ct, err := readWebhookBody(c)
		if err != nil {
			return err
		}
		p, err := mpesa.ParseC2B(body)
		if err != nil {
			qerr := inbox.Quarantine(c.Request().Context(), pool, quarantineCap, "mpesa.c2b.validation",
				"invalid c2b validation: "+err.Error(), ct, body)
			if qerr != nil {
				zerologCtx(c).Error().Err(qerr).Msg("quarantine of an invalid c2b validation failed")
			}
			return NewProblem(http.StatusBadRequest, "not a valid C2B payment: "+err.Error())
		}
		code, err := payment.ValidateC2B(c.Request().Context(), pool, p)
		if err != nil {
			return err
		}
		desc := "Rejected"
		if code == mpesa.C2BAccepted {
			desc = "Accepted"
		}
		zerologCtx(c).Info().Str("result_code", code).Msg("c2b validation answered")
		return c.JSON(http.StatusOK, map[string]string{"ResultCode": code, "ResultDesc": desc})
	}
}

// handleListUnallocated is GET /v1/payments/unallocated: Pay Bill money
// that matched no payment, oldest first (at most 500).
func handleListUnallocated(pool *pgxpool.Pool) echo.HandlerFunc {
	return func(c echo.Context) error {
		list, err := payment.ListUnallocated(c.Request().Context(), pool, 500)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"results": list})
	}
}

// handleAllocate is POST /v1/payments/unallocated/{trans_id}/allocate
// {"payment_id"}: credits the funds to a Pay Bill payment awaiting exactly
// that amount (409 otherwise), which becomes paid.
func handleAllocate(d payment.Deps) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req struct {
			PaymentID string `json:"payment_id"`
		}
		if err := bindStrict(c, &req); err != nil {
			return err
		}
		p, err := payment.Allocate(c.Request().Context(), d, c.Param("trans_id"), req.PaymentID, principalName(c))
		if errors.Is(err, payment.ErrNotAllocatable) {
			return NewProblem(http.StatusConflict, "the funds are allocated already, or the payment is not a pay bill payment awaiting this amount")
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, p.View())
	}
}
