package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"fundigo/pkg/events"
)

// Review is one customer's review of the technician who did a job. There is
// at most one review per job (unique job_id).
type Review struct {
	ID           string    `json:"id"`
	JobID        string    `json:"job_id"`
	TechnicianID string    `json:"technician_id"`
	CustomerID   string    `json:"customer_id"`
	Rating       int       `json:"rating"`
	Comment      string    `json:"comment"`
	Category     string    `json:"category"`
	CreatedAt    time.Time `json:"created_at"`
}

// Reviews holds the queries of the reviews table.
type Reviews struct {
	pool *pgxpool.Pool
}

// NewReviews returns the reviews queries over pool.
func NewReviews(pool *pgxpool.Pool) *Reviews { return &Reviews{pool: pool} }

const reviewColumns = `id::text, job_id, technician_id, customer_id, rating, comment, category, created_at`

// Insert stores a validated review and returns it with its id and
// created_at. A review for a job that already has one is not stored: the
// existing review is returned with ErrConflict, so callers can tell a replay
// (same content) from a real conflict.
func (s *Reviews) Insert(ctx context.Context, r Review) (Review, error) {
	row := s.pool.QueryRow(ctx, `
		INSERT INTO reviews (job_id, technician_id, customer_id, rating, comment, category)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (job_id) DO NOTHING
		RETURNING `+reviewColumns,
		r.JobID, r.TechnicianID, r.CustomerID, r.Rating, r.Comment, r.Category)
	out, err := scanReview(row)
	if errors.Is(err, ErrNotFound) {
		existing, gerr := s.GetByJob(ctx, r.JobID)
		if gerr != nil {
			return Review{}, fmt.Errorf("insert review for job %s: %w", r.JobID, gerr)
		}
		return existing, fmt.Errorf("insert review for job %s: %w", r.JobID, ErrConflict)
	}
	if err != nil {
		return Review{}, fmt.Errorf("insert review for job %s: %w", r.JobID, err)
	}
	return out, nil
}

// GetByJob returns the review of a job, or ErrNotFound.
func (s *Reviews) GetByJob(ctx context.Context, jobID string) (Review, error) {
	r, err := scanReview(s.pool.QueryRow(ctx, `SELECT `+reviewColumns+` FROM reviews WHERE job_id = $1`, jobID))
	if err != nil {
		return Review{}, fmt.Errorf("get review for job %s: %w", jobID, err)
	}
	return r, nil
}

// SameContent reports whether two reviews say the same thing (ignoring id
// and created_at): a replayed event or request rather than a conflict.
func (r Review) SameContent(o Review) bool {
	return r.JobID == o.JobID && r.TechnicianID == o.TechnicianID && r.CustomerID == o.CustomerID &&
		r.Rating == o.Rating && r.Comment == o.Comment && r.Category == o.Category
}

// ReviewFromEvent converts a normalized, validated review (the body of
// POST /v1/reviews or of a review.created event).
func ReviewFromEvent(in events.ReviewCreated) Review {
	return Review{
		JobID: string(in.JobID), TechnicianID: string(in.TechnicianID), CustomerID: string(in.CustomerID),
		Rating: in.Rating, Comment: in.Comment, Category: in.Category,
	}
}

func scanReview(row pgx.Row) (Review, error) {
	var r Review
	var rating int16
	err := row.Scan(&r.ID, &r.JobID, &r.TechnicianID, &r.CustomerID, &rating, &r.Comment, &r.Category, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Review{}, ErrNotFound
	}
	if err != nil {
		return Review{}, err
	}
	r.Rating = int(rating)
	return r, nil
}
