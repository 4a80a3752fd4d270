package rating

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"fundigo/pkg/config"
	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks/taskstest"
)

// baselineSQL is the reference the full recompute is measured against: the
// same aggregates and the same conditional upsert into the same table, as
// ONE INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE over all reviews
// (global mean inline), without batches, progress, resume, outbox or cache.
const baselineSQL = `
INSERT INTO technician_ratings AS tr
       (technician_id, review_count, rating_sum, mean, bayesian_average,
        d1, d2, d3, d4, d5, categories, last_review_at, updated_at)
SELECT technician_id, n, s, round(s::numeric / n, 4),
       round(($1::int * (SELECT round(sum(rating)::numeric / count(*), 4) FROM reviews) + s) / ($1::int + n), 4),
       d1, d2, d3, d4, d5, cats, last, now()
FROM (SELECT technician_id, count(*)::int AS n, sum(rating)::bigint AS s,
             count(*) FILTER (WHERE rating = 1)::int AS d1, count(*) FILTER (WHERE rating = 2)::int AS d2,
             count(*) FILTER (WHERE rating = 3)::int AS d3, count(*) FILTER (WHERE rating = 4)::int AS d4,
             count(*) FILTER (WHERE rating = 5)::int AS d5,
             coalesce(array_agg(DISTINCT category ORDER BY category) FILTER (WHERE category <> ''), '{}') AS cats,
             max(created_at) AS last
      FROM reviews GROUP BY technician_id) a
ON CONFLICT (technician_id) DO UPDATE SET
       review_count = EXCLUDED.review_count, rating_sum = EXCLUDED.rating_sum, mean = EXCLUDED.mean,
       bayesian_average = EXCLUDED.bayesian_average, d1 = EXCLUDED.d1, d2 = EXCLUDED.d2, d3 = EXCLUDED.d3,
       d4 = EXCLUDED.d4, d5 = EXCLUDED.d5, categories = EXCLUDED.categories,
       last_review_at = EXCLUDED.last_review_at, updated_at = EXCLUDED.updated_at
WHERE (tr.review_count, tr.rating_sum, tr.bayesian_average, tr.d1, tr.d2, tr.d3, tr.d4, tr.d5, tr.categories, tr.last_review_at)
      IS DISTINCT FROM (EXCLUDED.review_count, EXCLUDED.rating_sum, EXCLUDED.bayesian_average,
       EXCLUDED.d1, EXCLUDED.d2, EXCLUDED.d3, EXCLUDED.d4, EXCLUDED.d5, EXCLUDED.categories, EXCLUDED.last_review_at)`

func benchEnvInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil && v > 0 {
		return v
	}
	return def
}

// benchPool opens (creating, migrating and seeding on first use) the schema
// ratings_bench_<reviews>_<technicians>. It is kept between runs so a large
// data set is seeded once; drop it with DROP SCHEMA … CASCADE.
func benchPool(b *testing.B, reviews, technicians int64) *pgxpool.Pool {
	b.Helper()
	ctx := context.Background()
	schema := fmt.Sprintf("ratings_bench_%d_%d", reviews, technicians)
	admin, err := pgxpool.New(ctx, storetest.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
		b.Fatal(err)
	}
	sep := "?"
	if strings.Contains(storetest.URL(), "?") {
		sep = "&"
	}
	pool, err := store.Open(ctx, storetest.URL()+sep+"search_path="+schema, store.PoolConfig{MaxConns: 4})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	m, err := store.NewMigrator(pool, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	if err := m.Up(ctx); err != nil {
		b.Fatal(err)
	}
	var have int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM reviews`).Scan(&have); err != nil {
		b.Fatal(err)
	}
	if have != reviews {
		b.Logf("seeding %d reviews over %d technicians into %s", reviews, technicians, schema)
		start := time.Now()
		if _, err := pool.Exec(ctx, `TRUNCATE reviews`); err != nil {
			b.Fatal(err)
		}
		const chunk = 1_000_000
		for done := int64(0); done < reviews; done += chunk {
			if err := SeedReviews(ctx, pool, "bench", done, min(chunk, reviews-done), technicians); err != nil {
				b.Fatal(err)
			}
		}
		if err := VacuumReviews(ctx, pool); err != nil {
			b.Fatal(err)
		}
		b.Logf("seeded in %s", time.Since(start).Round(time.Millisecond))
	}
	return pool
}

// BenchmarkFullRecompute measures the full recompute (RecomputeAll: refresh
// the global mean, keyset batches of FUNDIGO_RATINGS_BATCH_SIZE technicians,
// outbox rows and cache invalidation for changed technicians, progress and
// resumable cursor) against baselineSQL over the same table, in the same
// run, from the same starting state:
//   - cold: technician_ratings empty, every technician inserted (and, for
//     the recompute, one rating.updated outbox row each);
//   - changed: every row's Bayesian average changes (prior weight toggled);
//   - unchanged: nothing changed, nothing written.
//
// Size: FUNDIGO_RATINGS_BENCH_REVIEWS (default 1,000,000) reviews over
// FUNDIGO_RATINGS_BENCH_TECHNICIANS (default 100,000) technicians. Run with
// -benchtime=1x; metrics: baseline_s, recompute_s and ratio per scenario.
func BenchmarkFullRecompute(b *testing.B) {
	reviews := benchEnvInt("FUNDIGO_RATINGS_BENCH_REVIEWS", 1_000_000)
	technicians := benchEnvInt("FUNDIGO_RATINGS_BENCH_TECHNICIANS", 100_000)
	batch := benchEnvInt("FUNDIGO_RATINGS_BATCH_SIZE", 5000)
	pool := benchPool(b, reviews, technicians)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		b.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			b.Fatal(err)
		}
	}
	deps := Deps{
		Pool: pool, Cache: NewCache(taskstest.Redis(b), taskstest.Prefix(b), config.Ratings{CacheTTL: time.Minute, TopCacheTTL: time.Minute}),
		Tasks: taskstest.Client(b), Queues: taskstest.Queues(b),
		Config: config.Ratings{PriorWeight: 10, BatchSize: int(batch), Parallelism: int(benchEnvInt("FUNDIGO_RATINGS_PARALLELISM", 2)), CacheTTL: time.Minute, TopCacheTTL: time.Minute},
	}
	// Warm the OS cache and the visibility map for both contenders.
	exec(`VACUUM (ANALYZE) reviews`)
	exec(`SELECT count(*), sum(rating) FROM reviews`)

	baseline := func(c int) time.Duration {
		start := time.Now()
		exec(baselineSQL, c)
		return time.Since(start)
	}
	recompute := func(c int) time.Duration {
		d := deps
		d.Config.PriorWeight = c
		start := time.Now()
		p, err := RecomputeAll(ctx, d, "bench", nil)
		if err != nil || p.Status != StatusFinished {
			b.Fatalf("recompute: %v %+v", err, p)
		}
		return time.Since(start)
	}
	settle := func() {
		exec(`TRUNCATE outbox, rating_recompute_runs`)
		exec(`VACUUM (ANALYZE) technician_ratings`)
	}
	report := func(b *testing.B, base, rec time.Duration) {
		b.ReportMetric(base.Seconds(), "baseline_s")
		b.ReportMetric(rec.Seconds(), "recompute_s")
		b.ReportMetric(rec.Seconds()/base.Seconds(), "ratio")
		b.ReportMetric(float64(reviews)/rec.Seconds(), "reviews/s")
	}

	b.Run(fmt.Sprintf("cold/reviews=%d/technicians=%d", reviews, technicians), func(b *testing.B) {
		for range b.N {
			exec(`TRUNCATE technician_ratings`)
			settle()
			base := baseline(10)
			exec(`TRUNCATE technician_ratings`)
			settle()
			rec := recompute(10)
			report(b, base, rec)
		}
	})
	b.Run(fmt.Sprintf("changed/reviews=%d/technicians=%d", reviews, technicians), func(b *testing.B) {
		for range b.N {
			settle()
			base := baseline(11) // every Bayesian average moves
			settle()
			rec := recompute(10) // and back
			report(b, base, rec)
		}
	})
	b.Run(fmt.Sprintf("unchanged/reviews=%d/technicians=%d", reviews, technicians), func(b *testing.B) {
		for range b.N {
			settle()
			base := baseline(10)
			settle()
			rec := recompute(10)
			report(b, base, rec)
		}
	})
}
