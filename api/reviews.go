package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"fundigo/pkg/events"
	"fundigo/pkg/logging"
	"fundigo/pkg/rating"
)

// newRatingDeps builds the ratings domain's dependencies once per server
// (the rating cache is shared by every ratings route).
func newRatingDeps(d Deps) rating.Deps {
	return rating.Deps{
		Pool:     d.Pool,
		Cache:    rating.NewCache(d.Redis, d.Config.Redis.KeyPrefix, d.Config.Ratings),
		Tasks:    d.Tasks,
		Queues:   d.Queues,
		Config:   d.Config.Ratings,
		GrantKey: []byte(d.Config.Auth.JWTSecret.Reveal()),
		NowFunc:  d.Now,
	}
}

// handleCreateReview accepts a review with rating.AcceptReview: 201 with
// the review, 409 when the job already has a review, 422 listing invalid
// fields (a self-review included), 403 when the author may not post it. A
// service key may post any review; a user token must post as itself
// (customer_id = its user id) and present, in the X-Review-Grant header, a
// review grant signed by the Django app for exactly this job, customer and
// technician (rating.Grant). If the debounced recompute cannot be enqueued,
// the technician is recomputed inline (a REST client cannot retry a stored
// review).
func handleCreateReview(d rating.Deps) echo.HandlerFunc {
	return func(c echo.Context) error {
		var in events.ReviewCreated
		if err := bindStrict(c, &in); err != nil {
			return err
		}
		by := rating.ServiceAuthor
		if p, ok := principalOf(c); !ok || p.Kind != "service" {
			by = rating.Author{UserID: p.UserID, Grant: c.Request().Header.Get(HeaderReviewGrant)}
		}
		acc, err := rating.AcceptReview(c.Request().Context(), d, by, in, rating.RecomputeInline)
		var invalid *rating.InvalidError
		switch {
		case errors.As(err, &invalid):
			return reviewProblems(invalid.Fields)
		case errors.Is(err, rating.ErrNotAllowed):
			return NewProblem(http.StatusForbidden, strings.TrimPrefix(err.Error(), rating.ErrNotAllowed.Error()+": "))
		case errors.Is(err, rating.ErrReviewConflict) || err == nil && acc.Replay:
			return NewProblem(http.StatusConflict, "this job already has a review")
		case err != nil:
			return err
		}
		zerologCtx(c).Info().Str(logging.FieldTechnicianID, acc.Review.TechnicianID).Str("review_id", acc.Review.ID).
			Msg("review accepted")
		return c.JSON(http.StatusCreated, acc.Review)
	}
}

// HeaderReviewGrant carries a user's review grant on POST /v1/reviews.
const HeaderReviewGrant = "X-Review-Grant"

func reviewProblems(probs []rating.FieldProblem) error {
	var f Fields
	for _, p := range probs {
		f.Add(p.Field, p.Message)
	}
	return f.Err()
}
