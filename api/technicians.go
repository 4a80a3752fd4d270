package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"fundigo/pkg/events"
	"fundigo/pkg/rating"
	"fundigo/pkg/store"
)

// handleGetTechnicianRating answers a technician's rating from the Redis
// cache (X-Cache: hit|miss), filled from Postgres on a miss; 404 when the
// technician has no reviews.
func handleGetTechnicianRating(d rating.Deps) echo.HandlerFunc {
	ratings := d.Store()
	return func(c echo.Context) error {
		id := c.Param("id")
		if id == "" || len(id) > rating.MaxExternalIDLen {
			return Validation(FieldError{Field: "id", Message: "must be 1..128 bytes"})
		}
		r, hit, err := d.Cache.Rating(c.Request().Context(), id, ratings.Get)
		if errors.Is(err, store.ErrNotFound) {
			return NewProblem(http.StatusNotFound, "this technician has no reviews")
		}
		if err != nil {
			return err
		}
		c.Response().Header().Set("X-Cache", cacheHeader(hit))
		return c.JSON(http.StatusOK, r)
	}
}

// topResponse is the body of GET /v1/technicians/top.
type topResponse struct {
	Category    string                 `json:"category"`
	Limit       int                    `json:"limit"`
	Technicians []events.RatingUpdated `json:"technicians"`
}

// handleTopTechnicians answers the technicians with the highest Bayesian
// average (then most reviews), optionally of one category; the list per
// category is cached for TopCacheTTL.
func handleTopTechnicians(d rating.Deps) echo.HandlerFunc {
	ratings := d.Store()
	return func(c echo.Context) error {
		var f Fields
		category := strings.ToLower(strings.TrimSpace(c.QueryParam("category")))
		if len(category) > rating.MaxReviewCategoryLen {
			f.Add("category", "must be at most 64 bytes")
		}
		limit := 20
		if s := c.QueryParam("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > rating.MaxTop {
				f.Add("limit", "must be an integer from 1 to 100")
			}
			limit = n
		}
		if err := f.Err(); err != nil {
			return err
		}
		list, hit, err := d.Cache.Top(c.Request().Context(), category, limit, ratings.Top)
		if err != nil {
			return err
		}
		c.Response().Header().Set("X-Cache", cacheHeader(hit))
		return c.JSON(http.StatusOK, topResponse{Category: category, Limit: limit, Technicians: list})
	}
}

func cacheHeader(hit bool) string {
	if hit {
		return "hit"
	}
	return "miss"
}
