package rating

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"fundigo/pkg/cursor"
	"fundigo/pkg/events"
)

// ListReviews answers one page of a technician's reviews, newest first
// (created_at, then id, descending).
func (s *Store) ListReviews(ctx context.Context, technicianID string, q cursor.Query) (cursor.Page[Review], error) {
	cond, order, args := q.TimeKeyset("created_at", "id", 3)
	rows, err := s.pool.Query(ctx, `SELECT `+reviewColumns+` FROM reviews WHERE technician_id = $1 AND `+cond+order+` LIMIT $2`,
		append([]any{technicianID, q.Limit()}, args...)...)
	if err != nil {
		return cursor.Page[Review]{}, fmt.Errorf("list reviews of technician %s: %w", technicianID, err)
	}
	rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Review, error) { return scanReview(r) })
	if err != nil {
		return cursor.Page[Review]{}, fmt.Errorf("list reviews of technician %s: %w", technicianID, err)
	}
	return cursor.Cut(q, rs, func(r Review) cursor.Position { return cursor.Position{Time: r.CreatedAt, ID: r.ID} }), nil
}

// TopPosition is a ranked rating's cursor position: (bayesian_average,
// review_count, technician_id), the average as the exact numeric(6,4) text
// it is stored as.
func TopPosition(r events.RatingUpdated) cursor.Position {
	return cursor.Position{Key: strconv.FormatFloat(r.BayesianAverage, 'f', 4, 64), Count: int64(r.Count), ID: r.TechnicianID}
}

// TopPage answers one page of the ranking Top answers (bayesian_average
// DESC, review_count DESC, technician_id), optionally of one category, after
// (or, reversed, before) q's position (see TopPosition). A first page is
// Top with one row more.
func (s *Store) TopPage(ctx context.Context, category string, q cursor.Query) (cursor.Page[events.RatingUpdated], error) {
	if q.After == nil {
		rs, err := s.Top(ctx, category, q.Limit())
		if err != nil {
			return cursor.Page[events.RatingUpdated]{}, err
		}
		return cursor.Cut(q, rs, TopPosition), nil
	}
	if _, err := strconv.ParseFloat(q.After.Key, 64); err != nil {
		return cursor.Page[events.RatingUpdated]{}, cursor.ErrInvalid
	}
	lt, gt := "<", ">"
	order := ` ORDER BY bayesian_average DESC, review_count DESC, technician_id ASC`
	if q.Reverse {
		lt, gt = ">", "<"
		order = ` ORDER BY bayesian_average ASC, review_count ASC, technician_id DESC`
	}
	rows, err := s.pool.Query(ctx, `SELECT `+ratingColumns+` FROM technician_ratings
		WHERE ($1 = '' OR categories @> ARRAY[$1::text])
		AND (bayesian_average `+lt+` $3::numeric OR (bayesian_average = $3::numeric AND
			(review_count `+lt+` $4 OR (review_count = $4 AND technician_id `+gt+` $5))))`+order+` LIMIT $2`,
		category, q.Limit(), q.After.Key, q.After.Count, q.After.ID)
	if err != nil {
		return cursor.Page[events.RatingUpdated]{}, fmt.Errorf("top technicians (category %q): %w", category, err)
	}
	rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (events.RatingUpdated, error) { return scanRating(r) })
	if err != nil {
		return cursor.Page[events.RatingUpdated]{}, fmt.Errorf("top technicians (category %q): %w", category, err)
	}
	return cursor.Cut(q, rs, TopPosition), nil
}
