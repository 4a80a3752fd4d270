package rating

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// SeedReviews inserts n generated reviews (job ids "<tag>-<i>" for i in
// start+1..start+n) over technicians technicians, for benchmarks and demos,
// in one INSERT … SELECT generate_series. Review i <= technicians goes to
// technician i, so seeding from start 0 with n >= technicians covers every
// technician; the others go to a skewed random technician (a few popular
// ones, a long tail). Each technician has its own rating tendency, 30% of
// reviews carry a comment, categories follow the technician's trade.
// Technician ids are "tech-" + 8 digits, so their byte order is numeric.
func SeedReviews(ctx context.Context, pool *pgxpool.Pool, tag string, start, n, technicians int64) error {
	if n < 1 || technicians < 1 {
		return fmt.Errorf("seed reviews: want n >= 1 and technicians >= 1, got %d and %d", n, technicians)
	}
	if _, err := pool.Exec(ctx, seedReviewsSQL, tag, start, n, technicians); err != nil {
		return fmt.Errorf("seed %d reviews from %d: %w", n, start, err)
	}
	return nil
}

// VacuumReviews refreshes the planner statistics and the visibility map of
// reviews after a bulk load, so the recompute's range scans are index-only.
func VacuumReviews(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) reviews`); err != nil {
		return fmt.Errorf("vacuum reviews: %w", err)
	}
	return nil
}

const seedReviewsSQL = `
	INSERT INTO reviews (job_id, technician_id, customer_id, rating, comment, category, created_at)
	SELECT $1::text || '-' || i,
	       'tech-' || lpad(t::text, 8, '0'),
	       'cust-' || (1 + floor(random() * ($4::bigint * 5)))::bigint,
	       CASE WHEN r < 0.07 THEN 1 WHEN r < 0.13 THEN 2 WHEN r < 0.25 THEN 3 WHEN r < 0.50 THEN 4 ELSE 5 END,
	       CASE WHEN random() < 0.3 THEN 'Arrived on time, good work.' ELSE '' END,
	       (ARRAY['plumbing','electrical','carpentry','painting','cleaning','appliance_repair','masonry','gardening'])
	           [1 + ((t + CASE WHEN random() < 0.2 THEN 1 ELSE 0 END) % 8)],
	       now() - random() * interval '365 days'
	FROM (SELECT i, t, power(random(), 0.6 + (t % 7) * 0.15) AS r
	      FROM (SELECT i, CASE WHEN i <= $4::bigint THEN i
	                           ELSE 1 + floor($4::bigint * power(random(), 2))::bigint END AS t
	            FROM generate_series($2::bigint + 1, $2::bigint + $3::bigint) AS i) g) s`
