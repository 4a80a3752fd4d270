package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"fundigo/pkg/cursor"
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

// topResponse is the body of GET /v1/technicians/top: a cursor page
// (next, previous) whose results are named technicians.
type topResponse struct {
	Category    string                 `json:"category"`
	Limit       int                    `json:"limit"`
	Next        *string                `json:"next"`
	Previous    *string                `json:"previous"`
	Technicians []events.RatingUpdated `json:"technicians"`
}

// handleTopTechnicians answers the technicians with the highest Bayesian
// average (then most reviews), optionally of one category, a cursor page at
// a time (page_size, or its older name limit). The first page of each
// category comes from the cache (TopCacheTTL); later pages from Postgres.
func handleTopTechnicians(d rating.Deps) echo.HandlerFunc {
	ratings := d.Store()
	return func(c echo.Context) error {
		q, err := listQuery(c, "category", "limit")
		if err != nil {
			return err
		}
		var f Fields
		category := strings.ToLower(strings.TrimSpace(c.QueryParam("category")))
		if len(category) > rating.MaxReviewCategoryLen {
			f.Add("category", "must be at most 64 bytes")
		}
		if s := c.QueryParam("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > rating.MaxTop {
				f.Add("limit", "must be an integer from 1 to 100")
			}
			if c.QueryParam("page_size") != "" {
				f.Add("limit", "give page_size or limit, not both")
			}
			q.Size = n
		}
		if err := f.Err(); err != nil {
			return err
		}
		var p cursor.Page[events.RatingUpdated]
		hit := false
		if q.After == nil {
			var list []events.RatingUpdated
			list, hit, err = d.Cache.Top(c.Request().Context(), category, q.Limit(), ratings.Top)
			p = cursor.Cut(q, list, rating.TopPosition)
		} else {
			p, err = ratings.TopPage(c.Request().Context(), category, q)
		}
		if err != nil {
			return listError(err)
		}
		c.Response().Header().Set("X-Cache", cacheHeader(hit))
		body := page[events.RatingUpdated]{}
		answerLinks(c, p, &body)
		return writeJSON(c, http.StatusOK, topResponse{Category: category, Limit: q.Size, Next: body.Next, Previous: body.Previous,
			Technicians: p.Items})
	}
}

// handleListReviews is GET /v1/technicians/{id}/reviews: a technician's
// reviews, newest first.
func handleListReviews(d rating.Deps) echo.HandlerFunc {
	ratings := d.Store()
	return func(c echo.Context) error {
		id := c.Param("id")
		if id == "" || len(id) > rating.MaxExternalIDLen {
			return Validation(FieldError{Field: "id", Message: "must be 1..128 bytes"})
		}
		q, err := listQuery(c)
		if err != nil {
			return err
		}
		p, err := ratings.ListReviews(c.Request().Context(), id, q)
		if err != nil {
			return listError(err)
		}
		return answerPage(c, p, func(r rating.Review) rating.Review { return r })
	}
}

func cacheHeader(hit bool) string {
	if hit {
		return "hit"
	}
	return "miss"
}
