package rating

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"fundigo/pkg/events"
	"fundigo/pkg/outbox"
	"fundigo/pkg/store"
)

// Store holds the SQL of the ratings domain: reviews (one per job),
// technician_ratings and rating_globals (the set-based recompute, one
// statement per technician or per keyset batch, writing rating.updated to
// the outbox for changed rows only, and the reads), the full-recompute runs
// (store_runs.go) and the commands row of an on-demand recompute.
//
// Rounding: mean, bayesian_average and the global mean are PostgreSQL numeric
// values rounded half away from zero to 4 decimals (round(numeric, 4)). The
// quotients are computed in numeric with at least 16 significant digits; with
// denominators below 10^9 no quotient lies that close to a rounding tie
// without being one, so the result equals rounding the exact fraction.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns the ratings queries over pool; rating.updated events are
// written to the outbox (published to the relay's exchange).
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// RatingParams are the inputs of the Bayesian average
// round((C·m + Σ ratings) / (C + n), 4).
type RatingParams struct {
	// GlobalMean is m as numeric text ("4.1234"), from rating_globals.
	GlobalMean string
	// PriorWeight is C.
	PriorWeight int
}

// ratingAggSQL aggregates reviews per technician; the caller appends the
// WHERE / GROUP BY / ORDER BY / LIMIT that picks the technicians. With the
// covering index reviews_technician_id this is an index-only range scan
// feeding a streaming GroupAggregate.
const ratingAggSQL = `
	SELECT technician_id,
	       count(*)::int                          AS n,
	       sum(rating)::bigint                    AS s,
	       count(*) FILTER (WHERE rating = 1)::int AS d1,
	       count(*) FILTER (WHERE rating = 2)::int AS d2,
	       count(*) FILTER (WHERE rating = 3)::int AS d3,
	       count(*) FILTER (WHERE rating = 4)::int AS d4,
	       count(*) FILTER (WHERE rating = 5)::int AS d5,
	       coalesce(array_agg(DISTINCT category ORDER BY category) FILTER (WHERE category <> ''), '{}') AS cats,
	       max(created_at)                        AS last
	FROM reviews`

// ratingUpsertSQL upserts the aggregates in agg and returns (as CTE "up")
// only the rows whose numbers changed; "ev" writes one rating.updated outbox
// row per changed technician in the same statement. Parameters:
// @prior_weight, @global_mean, @routing_key.
const ratingUpsertSQL = `
up AS (
	INSERT INTO technician_ratings AS tr
	       (technician_id, review_count, rating_sum, mean, bayesian_average,
	        d1, d2, d3, d4, d5, categories, last_review_at, updated_at)
	SELECT technician_id, n, s,
	       round(s::numeric / n, 4),
	       round((@prior_weight::int * @global_mean::numeric + s) / (@prior_weight::int + n), 4),
	       d1, d2, d3, d4, d5, cats, last, now()
	FROM agg
	ON CONFLICT (technician_id) DO UPDATE SET
	       review_count = EXCLUDED.review_count, rating_sum = EXCLUDED.rating_sum,
	       mean = EXCLUDED.mean, bayesian_average = EXCLUDED.bayesian_average,
	       d1 = EXCLUDED.d1, d2 = EXCLUDED.d2, d3 = EXCLUDED.d3, d4 = EXCLUDED.d4, d5 = EXCLUDED.d5,
	       categories = EXCLUDED.categories, last_review_at = EXCLUDED.last_review_at,
	       updated_at = EXCLUDED.updated_at
	WHERE (tr.review_count, tr.rating_sum, tr.bayesian_average, tr.d1, tr.d2, tr.d3, tr.d4, tr.d5,
	       tr.categories, tr.last_review_at)
	      IS DISTINCT FROM
	      (EXCLUDED.review_count, EXCLUDED.rating_sum, EXCLUDED.bayesian_average,
	       EXCLUDED.d1, EXCLUDED.d2, EXCLUDED.d3, EXCLUDED.d4, EXCLUDED.d5,
	       EXCLUDED.categories, EXCLUDED.last_review_at)
	RETURNING tr.*
),
ev AS (` + ratingEventsSQL + `)`

// ratingColumns reads a technician_ratings row (or the "up" CTE) in the
// order scanRating expects.
const ratingColumns = `technician_id, review_count, mean, bayesian_average, d1, d2, d3, d4, d5,
	categories, last_review_at, updated_at`

func scanRating(row pgx.Row) (events.RatingUpdated, error) {
	var r events.RatingUpdated
	d := &r.Distribution
	err := row.Scan(&r.TechnicianID, &r.Count, &r.Average, &r.BayesianAverage,
		&d.One, &d.Two, &d.Three, &d.Four, &d.Five, &r.Categories, &r.LastReviewAt, &r.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, store.ErrNotFound
	}
	if r.Categories == nil {
		r.Categories = []string{}
	}
	return r, err
}

// Get returns a technician's rating, or store.ErrNotFound when it has no reviews
// (or none has been aggregated yet).
func (s *Store) Get(ctx context.Context, technicianID string) (events.RatingUpdated, error) {
	r, err := scanRating(s.pool.QueryRow(ctx,
		`SELECT `+ratingColumns+` FROM technician_ratings WHERE technician_id = $1`, technicianID))
	if err != nil {
		return r, fmt.Errorf("get rating of technician %s: %w", technicianID, err)
	}
	return r, nil
}

// Top returns up to limit technicians ordered by Bayesian average, then
// review count, then id; category "" means all categories.
func (s *Store) Top(ctx context.Context, category string, limit int) ([]events.RatingUpdated, error) {
	const order = ` ORDER BY bayesian_average DESC, review_count DESC, technician_id LIMIT `
	var rows pgx.Rows
	var err error
	if category == "" {
		rows, err = s.pool.Query(ctx, `SELECT `+ratingColumns+` FROM technician_ratings`+order+`$1`, limit)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT `+ratingColumns+` FROM technician_ratings
			WHERE categories @> ARRAY[$1::text]`+order+`$2`, category, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("top technicians (category %q): %w", category, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (events.RatingUpdated, error) { return scanRating(r) })
	if err != nil {
		return nil, fmt.Errorf("top technicians (category %q): %w", category, err)
	}
	return out, nil
}

// Globals is the refreshed global mean and what it was computed from.
type Globals struct {
	GlobalMean  string // numeric text, 4 decimals
	ReviewCount int64
	RatingSum   int64
}

// RefreshGlobals recomputes the global mean over all reviews (one scan) and
// stores it; with no reviews the mean is 0.
func (s *Store) RefreshGlobals(ctx context.Context) (Globals, error) {
	var g Globals
	err := s.pool.QueryRow(ctx, `
		INSERT INTO rating_globals (singleton, global_mean, review_count, rating_sum, refreshed_at)
		SELECT true, coalesce(round(sum(rating)::numeric / nullif(count(*), 0), 4), 0),
		       count(*), coalesce(sum(rating), 0), now()
		FROM reviews
		ON CONFLICT (singleton) DO UPDATE SET global_mean = EXCLUDED.global_mean,
		       review_count = EXCLUDED.review_count, rating_sum = EXCLUDED.rating_sum,
		       refreshed_at = EXCLUDED.refreshed_at
		RETURNING global_mean::text, review_count, rating_sum`).Scan(&g.GlobalMean, &g.ReviewCount, &g.RatingSum)
	if err != nil {
		return Globals{}, fmt.Errorf("refresh rating globals: %w", err)
	}
	return g, nil
}

// GlobalMean returns the stored global mean, refreshing it first if the
// full recompute has never run.
func (s *Store) GlobalMean(ctx context.Context) (string, error) {
	var m string
	err := s.pool.QueryRow(ctx, `SELECT global_mean::text FROM rating_globals`).Scan(&m)
	if errors.Is(err, pgx.ErrNoRows) {
		g, rerr := s.RefreshGlobals(ctx)
		return g.GlobalMean, rerr
	}
	if err != nil {
		return "", fmt.Errorf("read global mean: %w", err)
	}
	return m, nil
}

// RecomputeTechnician recomputes one technician from its reviews in one
// statement. It returns the new rating and changed=true when the stored
// numbers changed (a rating.updated row was then written to the outbox in
// the same statement); changed=false means nothing was written.
func (s *Store) RecomputeTechnician(ctx context.Context, technicianID string, p RatingParams) (r events.RatingUpdated, changed bool, err error) {
	sql := `WITH agg AS (` + ratingAggSQL + ` WHERE technician_id = @technician_id GROUP BY technician_id),
		` + ratingUpsertSQL + `
		SELECT ` + ratingColumns + ` FROM up`
	r, err = scanRating(s.pool.QueryRow(ctx, sql, s.namedArgs(p, pgx.NamedArgs{"technician_id": technicianID})))
	if errors.Is(err, store.ErrNotFound) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("recompute rating of technician %s: %w", technicianID, err)
	}
	store.Notify(s.pool, outbox.NotifyChannel) // the statement committed an event
	return r, true, nil
}

func (s *Store) namedArgs(p RatingParams, extra pgx.NamedArgs) pgx.NamedArgs {
	args := pgx.NamedArgs{
		"prior_weight": p.PriorWeight,
		"global_mean":  p.GlobalMean,
		"routing_key":  events.RoutingKeyRatingUpdated,
	}
	for k, v := range extra {
		args[k] = v
	}
	return args
}

// ratingEventsSQL writes one rating.updated outbox row (events.RatingUpdated
// JSON) per row of "up"; it is the body of the "ev" CTE. The message id is
// deterministic (technician + updated_at in µs), as pkg/outbox asks. The
// JSON is concatenated rather than built with json_build_object, which
// costs several times more per row; strings and timestamps go through
// to_json, numbers are numeric/integer text, so the result is valid JSON
// (TestRecomputeTechnicianPublishesOnlyChanges decodes it). A set-based insert
// rather than one outbox.Write per row, so a batch that changes thousands of
// technicians stays one statement.
const ratingEventsSQL = `
	INSERT INTO outbox (message_id, routing_key, message_type, payload)
	SELECT 'rating.updated:' || technician_id || ':' || (extract(epoch FROM updated_at) * 1000000)::bigint,
	       @routing_key::text, @routing_key::text,
	       convert_to('{"technician_id":' || to_json(technician_id) ||
	           ',"count":' || review_count || ',"average":' || mean || ',"bayesian_average":' || bayesian_average ||
	           ',"distribution":{"1":' || d1 || ',"2":' || d2 || ',"3":' || d3 || ',"4":' || d4 || ',"5":' || d5 ||
	           '},"categories":' || to_json(categories) || ',"last_review_at":' || to_json(last_review_at) ||
	           ',"updated_at":' || to_json(updated_at) || '}', 'UTF8')
	FROM up
	ON CONFLICT (message_id) DO NOTHING`

const reviewColumns = `id::text, job_id, technician_id, customer_id, rating, comment, category, created_at`

// InsertReview stores a validated review and returns it with its id and
// created_at. A review for a job that already has one is not stored: the
// existing review is returned with store.ErrConflict, so callers can tell a
// replay (same content) from a real conflict.
func (s *Store) InsertReview(ctx context.Context, r Review) (Review, error) {
	row := s.pool.QueryRow(ctx, `
		INSERT INTO reviews (job_id, technician_id, customer_id, rating, comment, category)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (job_id) DO NOTHING
		RETURNING `+reviewColumns,
		r.JobID, r.TechnicianID, r.CustomerID, r.Rating, r.Comment, r.Category)
	out, err := scanReview(row)
	if errors.Is(err, store.ErrNotFound) {
		existing, gerr := s.ReviewByJob(ctx, r.JobID)
		if gerr != nil {
			return Review{}, fmt.Errorf("insert review for job %s: %w", r.JobID, gerr)
		}
		return existing, fmt.Errorf("insert review for job %s: %w", r.JobID, store.ErrConflict)
	}
	if err != nil {
		return Review{}, fmt.Errorf("insert review for job %s: %w", r.JobID, err)
	}
	return out, nil
}

// ReviewByJob returns the review of a job, or store.ErrNotFound.
func (s *Store) ReviewByJob(ctx context.Context, jobID string) (Review, error) {
	r, err := scanReview(s.pool.QueryRow(ctx, `SELECT `+reviewColumns+` FROM reviews WHERE job_id = $1`, jobID))
	if err != nil {
		return Review{}, fmt.Errorf("get review for job %s: %w", jobID, err)
	}
	return r, nil
}

func scanReview(row pgx.Row) (Review, error) {
	var r Review
	var rating int16
	err := row.Scan(&r.ID, &r.JobID, &r.TechnicianID, &r.CustomerID, &rating, &r.Comment, &r.Category, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Review{}, store.ErrNotFound
	}
	if err != nil {
		return Review{}, err
	}
	r.Rating = int(rating)
	return r, nil
}

// RecordCommand inserts the commands row of an operator command (id = its
// task id). Recording an id again is a no-op, except that a command whose
// enqueue failed is set back to accepted for the retry.
func (s *Store) RecordCommand(ctx context.Context, id, kind string) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO commands (id, kind) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET state = 'accepted', error = NULL, updated_at = now()
		WHERE commands.state = 'failed'`, id, kind)
	if err != nil {
		return fmt.Errorf("record command %s: %w", id, err)
	}
	return nil
}

// FailCommand marks a command failed with a short reason (shown by
// GET /v1/tasks/{id}). It runs even when ctx is cancelled: it is the
// bookkeeping of a failure.
func (s *Store) FailCommand(ctx context.Context, id, reason string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_, err := s.pool.Exec(ctx, `UPDATE commands SET state = 'failed', error = $2, updated_at = now() WHERE id = $1`, id, reason)
	if err != nil {
		return fmt.Errorf("mark command %s failed: %w", id, err)
	}
	return nil
}

// SetCommandProgress writes a command's state and progress JSON. It runs
// even when ctx is cancelled (progress of an interrupted run), bounded by a
// short timeout.
func (s *Store) SetCommandProgress(ctx context.Context, id, state string, progress []byte) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_, err := s.pool.Exec(ctx, `UPDATE commands SET state = $2, progress = $3, updated_at = now() WHERE id = $1`, id, state, progress)
	if err != nil {
		return fmt.Errorf("write progress of command %s: %w", id, err)
	}
	return nil
}
