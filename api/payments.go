package api

import (
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/payment"
)

// handleCreatePayment is POST /v1/payments: it starts an STK Push
// (payment.Create) and answers 202 with the payment. The payment id follows
// from (caller, Idempotency-Key), so a retry finds the same payment. The
// customer (customer_id, the Django user id) may read its push task.
func handleCreatePayment(d payment.Deps) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req payment.CreateRequest
		if err := bindStrict(c, &req); err != nil {
			return err
		}
		pd := d
		pd.Log = *zerologCtx(c)
		id := payment.IDFor(principalName(c), c.Request().Header.Get("Idempotency-Key"))
		// The push task (task id = payment id) is readable by the caller
		// and by the customer it is for (GET /v1/tasks/{id}), recorded with
		// the payment.
		principal, _ := principalOf(c)
		req.Owner, req.OwnerUser = principalName(c), ownerUser(principal, "")
		p, err := payment.Create(c.Request().Context(), pd, id, req)
		if err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderLocation, "/v1/payments/"+p.ID)
		return c.JSON(http.StatusAccepted, p.View())
	}
}

// handleGetPayment answers the payment's current state (phone masked). A
// malformed id is 404 without a query.
func handleGetPayment(pool *pgxpool.Pool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		if _, err := payment.ParseID(id); err != nil {
			return err
		}
		p, err := payment.NewStore(pool).Get(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, p.View())
	}
}

// handleListPayments is GET /v1/payments: the payments of a job, a customer
// and/or a status, newest first, one cursor page at a time.
func handleListPayments(pool *pgxpool.Pool) echo.HandlerFunc {
	payments := payment.NewStore(pool)
	return func(c echo.Context) error {
		q, err := listQuery(c, "job_id", "customer_id", "status")
		if err != nil {
			return err
		}
		f := payment.Filter{JobID: c.QueryParam("job_id"), CustomerID: c.QueryParam("customer_id"), Status: payment.Status(c.QueryParam("status"))}
		if err := f.Validate(); err != nil {
			return err
		}
		p, err := payments.List(c.Request().Context(), f, q)
		if err != nil {
			return listError(err)
		}
		return answerPage(c, p, payment.Payment.View)
	}
}
