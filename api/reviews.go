package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"fundigo/pkg/config"
	"fundigo/pkg/events"
	"fundigo/pkg/logging"
	"fundigo/pkg/ratingcache"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// reviewsDeps are what the reviews and technicians handlers need.
type reviewsDeps struct {
	pool     *pgxpool.Pool
	cache    *ratingcache.Cache
	tasks    *asynq.Client
	queue    string // queue of the debounced recompute
	exchange string // rating.updated (inline fallback recompute)
	cfg      config.Ratings
	now      func() time.Time
}

func newReviewsDeps(d Deps) reviewsDeps {
	return reviewsDeps{
		pool:     d.Pool,
		cache:    ratingcache.New(d.Redis, d.Config.Redis.KeyPrefix, d.Config.Ratings.CacheTTL, d.Config.Ratings.TopCacheTTL),
		tasks:    d.Tasks,
		queue:    d.Queues.Default,
		exchange: d.Config.AMQP.Exchange,
		cfg:      d.Config.Ratings,
		now:      d.Now,
	}
}

// handleCreateReview stores a review (one per job) and schedules the
// debounced recompute of its technician: 201 with the review, 409 when the
// job already has a review, 422 listing invalid fields. A user (JWT) may
// only review as itself (customer_id = its user id). If the enqueue fails,
// the technician is recomputed inline so the rating is still fresh; if that
// fails too, the review stands and the nightly recompute catches up.
func handleCreateReview(d reviewsDeps) echo.HandlerFunc {
	reviews := store.NewReviews(d.pool)
	return func(c echo.Context) error {
		var in events.ReviewCreated
		if err := bindStrict(c, &in); err != nil {
			return err
		}
		in = in.Normalize()
		if probs := in.Validate(); len(probs) > 0 {
			var f Fields
			for _, p := range probs {
				f.Add(p.Field, p.Message)
			}
			return f.Err()
		}
		if p, ok := principalOf(c); ok && p.Kind == "user" && p.UserID != string(in.CustomerID) {
			return NewProblem(http.StatusForbidden, "a user may only submit reviews as the customer_id of its own token")
		}
		ctx := c.Request().Context()
		r, err := reviews.Insert(ctx, store.ReviewFromEvent(in))
		if errors.Is(err, store.ErrConflict) {
			return NewProblem(http.StatusConflict, "this job already has a review")
		}
		if err != nil {
			return err
		}
		log := zerologCtx(c).With().Str(logging.FieldTechnicianID, r.TechnicianID).Str("review_id", r.ID).Logger()
		if _, err := tasks.EnqueueRecomputeTechnician(ctx, d.tasks, d.queue, r.TechnicianID, d.now(), d.cfg.Debounce); err != nil {
			log.Warn().Err(err).Msg("rating recompute enqueue failed; recomputing inline")
			if err := d.recomputeInline(c, r.TechnicianID); err != nil {
				log.Warn().Err(err).Msg("inline rating recompute failed; the nightly recompute will catch up")
			}
		}
		log.Info().Msg("review accepted")
		return c.JSON(http.StatusCreated, r)
	}
}

func (d reviewsDeps) recomputeInline(c echo.Context, technicianID string) error {
	ctx := c.Request().Context()
	ratings := store.NewRatings(d.pool, d.exchange)
	m, err := ratings.GlobalMean(ctx)
	if err != nil {
		return err
	}
	if _, _, err := ratings.RecomputeTechnician(ctx, technicianID, store.RatingParams{GlobalMean: m, PriorWeight: d.cfg.PriorWeight}); err != nil {
		return err
	}
	return d.cache.Invalidate(ctx, technicianID)
}
