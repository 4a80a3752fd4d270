package api

import (
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/payout"
)

// handleCreatePayout is POST /v1/payouts: it records a B2C payout
// (payout.Create) and answers 202 with it, status pending. The payout id
// follows from (caller, Idempotency-Key), so a retry finds the same payout
// and the technician is never paid twice.
func handleCreatePayout(d payout.Deps) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req payout.CreateRequest
		if err := bindStrict(c, &req); err != nil {
			return err
		}
		pd := d
		pd.Log = *zerologCtx(c)
		id := payout.IDFor(principalName(c), c.Request().Header.Get("Idempotency-Key"))
		p, err := payout.Create(c.Request().Context(), pd, id, req)
		if err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderLocation, "/v1/payouts/"+p.ID)
		return c.JSON(http.StatusAccepted, p.View())
	}
}

// handleGetPayout is GET /v1/payouts/{id} (phone masked). A malformed id is
// 404 without a query.
func handleGetPayout(pool *pgxpool.Pool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		if _, err := payout.ParseID(id); err != nil {
			return err
		}
		p, err := payout.NewStore(pool).Get(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, p.View())
	}
}

// payoutDeps are the payout commands' dependencies of the API role.
func payoutDeps(d Deps) payout.Deps {
	return payout.Deps{Log: d.Log, Pool: d.Pool, Tasks: d.Tasks, Queues: d.Queues, Config: d.Config.Payouts, Now: d.Now}
}
