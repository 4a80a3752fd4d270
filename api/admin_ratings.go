package api

import (
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/rating"
)

// recomputeAccepted is the 202 body of POST /v1/admin/ratings/recompute.
type recomputeAccepted struct {
	TaskID    string `json:"task_id"`
	Status    string `json:"status"`
	StatusURL string `json:"status_url"`
}

// handleRecomputeRatings starts a full ratings recompute with
// rating.StartRecompute under a new task id and answers 202 with it; the
// command is recorded first, so GET /v1/tasks/{id} finds it at once.
func handleRecomputeRatings(d rating.Deps) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := uuid.NewString()
		if err := rating.StartRecompute(c.Request().Context(), d, id, "admin:"+principalName(c)); err != nil {
			return err
		}
		zerologCtx(c).Info().Str("task_id", id).Msg("ratings recompute accepted")
		c.Response().Header().Set(echo.HeaderLocation, "/v1/tasks/"+id)
		return c.JSON(http.StatusAccepted, recomputeAccepted{TaskID: id, Status: "accepted", StatusURL: "/v1/tasks/" + id})
	}
}
