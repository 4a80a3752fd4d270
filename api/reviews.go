package api

import (
	"errors"
	"net/http"

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
		Cache:    rating.NewCache(d.Redis, d.Config.Redis.KeyPrefix, d.Config.Ratings.CacheTTL, d.Config.Ratings.TopCacheTTL),
		Tasks:    d.Tasks,
		Queues:   d.Queues,
		Exchange: d.Config.AMQP.Exchange,
		Config:   d.Config.Ratings,
		NowFunc:  d.Now,
	}
}

// handleCreateReview accepts a review with rating.AcceptReview: 201 with
// the review, 409 when the job already has a review, 422 listing invalid
// fields. A user (JWT) may only review as itself (customer_id = its user
// id). If the debounced recompute cannot be enqueued, the technician is
// recomputed inline (a REST client cannot retry a stored review).
func handleCreateReview(d rating.Deps) echo.HandlerFunc {
	return func(c echo.Context) error {
		var in events.ReviewCreated
		if err := bindStrict(c, &in); err != nil {
			return err
		}
		in = rating.Normalize(in)
		if probs := rating.Validate(in); len(probs) > 0 {
			return reviewProblems(probs)
		}
		if p, ok := principalOf(c); ok && p.Kind == "user" && p.UserID != string(in.CustomerID) {
			return NewProblem(http.StatusForbidden, "a user may only submit reviews as the customer_id of its own token")
		}
		acc, err := rating.AcceptReview(c.Request().Context(), d, in, rating.RecomputeInline)
		if errors.Is(err, rating.ErrReviewConflict) || acc.Replay {
			return NewProblem(http.StatusConflict, "this job already has a review")
		}
		var invalid *rating.InvalidError
		if errors.As(err, &invalid) {
			return reviewProblems(invalid.Problems)
		}
		if err != nil {
			return err
		}
		zerologCtx(c).Info().Str(logging.FieldTechnicianID, acc.Review.TechnicianID).Str("review_id", acc.Review.ID).
			Msg("review accepted")
		return c.JSON(http.StatusCreated, acc.Review)
	}
}

func reviewProblems(probs []rating.FieldProblem) error {
	var f Fields
	for _, p := range probs {
		f.Add(p.Field, p.Message)
	}
	return f.Err()
}
