package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	kit "fundigo/pkg/bench"
)

// benchRatings measures the full ratings recompute: it seeds --reviews
// reviews over --technicians technicians straight into the in-process
// system's database, then times POST /v1/admin/ratings/recompute until its
// run is finished (keyset batches, progress, outbox events for every
// changed technician). The baseline is one INSERT … SELECT … GROUP BY … ON
// CONFLICT DO UPDATE computing the same aggregates over the same reviews
// into a scratch table of the same shape.
func benchRatings(ctx context.Context, b *benchRun) error {
	if b.flags.Target != "" {
		return errors.New("ratings scenario: seeds reviews straight into the database, so it runs only in-process (drop --target)")
	}
	s, err := b.system(ctx, nil)
	if err != nil {
		return err
	}
	defer s.stop()
	const route = "/v1/admin/ratings/recompute"
	if !s.hasRoute(http.MethodPost, route) {
		return errors.New("ratings scenario: POST " + route + " is not registered (ratings domain missing from api/routes.go)")
	}
	pool := s.in.Pool
	n, techs := b.flags.Reviews, max(b.flags.Technicians, 1)
	if _, err := pool.Exec(ctx, `
		INSERT INTO reviews (job_id, technician_id, customer_id, rating, category, created_at)
		SELECT 'bench-job-' || g, 'bench-tech-' || lpad((g % $2)::text, 7, '0'), 'bench-customer',
		       1 + abs(hashint4(g)) % 5, (ARRAY['', 'plumbing', 'electrical', 'carpentry'])[1 + g % 4],
		       now() - g * interval '1 second'
		FROM generate_series(1, $1::int) g`, n, techs); err != nil {
		return fmt.Errorf("seed reviews: %w", err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE reviews`); err != nil {
		return fmt.Errorf("analyze reviews: %w", err)
	}

	if b.flags.Baselines {
		if err := ratingsBaseline(ctx, b, pool, n); err != nil {
			return err
		}
	}

	c := newClient(s, 1)
	defer c.close()
	stopProfile, err := b.profile("ratings.full_recompute")
	if err != nil {
		return err
	}
	cpu := kit.StartCPU()
	start := time.Now()
	body, err := c.do(ctx, http.MethodPost, route, nil, http.StatusAccepted, nil)
	if err != nil {
		stopProfile()
		return err
	}
	var accepted struct {
		TaskID string `json:"task_id"`
	}
	if err := json.Unmarshal(body, &accepted); err != nil || accepted.TaskID == "" {
		stopProfile()
		return fmt.Errorf("recompute: no task id in %.200s", body)
	}
	progress := func(kit.Progress) {}
	if b.stderr != nil {
		progress = kit.NewProgressBar(b.stderr, b.round+"ratings.full_recompute", kit.Options{Count: int64(n)})
	}
	err = waitRecompute(ctx, pool, accepted.TaskID, start, progress)
	elapsed := time.Since(start)
	stopProfile()
	res := kit.Timed("ratings.full_recompute", int64(n), elapsed)
	cpu.Stop(&res)
	res.Unit = "review"
	res.Note = fmt.Sprintf("%d reviews over %d technicians; API call to finished run", n, techs)
	if err != nil {
		res.Errors, res.FirstError = 1, err.Error()
	}
	b.add(res, "baseline.ratings_sql", nil)
	return err
}

// ratingsBaselineSQL computes every technician's aggregates in one
// statement: count, sum, mean, Bayesian average with the global mean of all
// reviews ($1 is the prior weight C), the 1–5 distribution, categories and
// the latest review, upserted where they differ.
const ratingsBaselineSQL = `
WITH globals AS (SELECT round(avg(rating)::numeric, 4) AS m FROM reviews),
per_tech AS (
	SELECT technician_id, count(*)::int AS cnt, sum(rating)::bigint AS total,
	       count(*) FILTER (WHERE rating = 1)::int AS r1, count(*) FILTER (WHERE rating = 2)::int AS r2,
	       count(*) FILTER (WHERE rating = 3)::int AS r3, count(*) FILTER (WHERE rating = 4)::int AS r4,
	       count(*) FILTER (WHERE rating = 5)::int AS r5,
	       coalesce(array_agg(DISTINCT category ORDER BY category) FILTER (WHERE category <> ''), '{}') AS cats,
	       max(created_at) AS latest
	FROM reviews GROUP BY technician_id)
INSERT INTO bench_ratings AS t (technician_id, review_count, rating_sum, mean, bayesian_average,
	d1, d2, d3, d4, d5, categories, last_review_at, updated_at)
SELECT p.technician_id, p.cnt, p.total, round(p.total::numeric / p.cnt, 4),
       round(($1::int * g.m + p.total) / ($1::int + p.cnt), 4),
       p.r1, p.r2, p.r3, p.r4, p.r5, p.cats, p.latest, now()
FROM per_tech p CROSS JOIN globals g
ON CONFLICT (technician_id) DO UPDATE SET
	review_count = excluded.review_count, rating_sum = excluded.rating_sum, mean = excluded.mean,
	bayesian_average = excluded.bayesian_average, d1 = excluded.d1, d2 = excluded.d2, d3 = excluded.d3,
	d4 = excluded.d4, d5 = excluded.d5, categories = excluded.categories,
	last_review_at = excluded.last_review_at, updated_at = excluded.updated_at
WHERE (t.review_count, t.rating_sum, t.bayesian_average, t.categories, t.last_review_at)
	IS DISTINCT FROM (excluded.review_count, excluded.rating_sum, excluded.bayesian_average,
	excluded.categories, excluded.last_review_at)`

// ratingsBaseline times ratingsBaselineSQL into a scratch table shaped like
// technician_ratings (same indexes), so the recompute that follows still
// finds every technician to write.
func ratingsBaseline(ctx context.Context, b *benchRun, pool *pgxpool.Pool, n int) error {
	if _, err := pool.Exec(ctx, `CREATE TABLE bench_ratings (LIKE technician_ratings INCLUDING ALL)`); err != nil {
		return fmt.Errorf("create scratch ratings table: %w", err)
	}
	defer func() { _, _ = pool.Exec(context.WithoutCancel(ctx), `DROP TABLE bench_ratings`) }()
	stop, err := b.profile("baseline.ratings_sql")
	if err != nil {
		return err
	}
	start := time.Now()
	_, err = pool.Exec(ctx, ratingsBaselineSQL, b.cfg.Ratings.PriorWeight)
	elapsed := time.Since(start)
	stop()
	if err != nil {
		return fmt.Errorf("baseline ratings statement: %w", err)
	}
	res := kit.Timed("baseline.ratings_sql", int64(n), elapsed)
	res.Unit = "review"
	res.Note = "one INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE over the same reviews"
	b.add(res, "", nil)
	return nil
}

// waitRecompute polls the run started by task id until it finished, at most
// 10 minutes, feeding progress with the reviews processed so far.
func waitRecompute(ctx context.Context, pool *pgxpool.Pool, taskID string, start time.Time, progress func(kit.Progress)) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for {
		var status string
		var processed int64
		err := pool.QueryRow(ctx, `SELECT status, processed_reviews FROM rating_recompute_runs WHERE task_id = $1`, taskID).
			Scan(&status, &processed)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read recompute run: %w", err)
		}
		progress(kit.Progress{Done: processed, Elapsed: time.Since(start)})
		switch status {
		case "finished":
			return nil
		case "failed":
			return fmt.Errorf("recompute run of task %s failed", taskID)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("recompute run of task %s: %w", taskID, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
