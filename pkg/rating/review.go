package rating

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"fundigo/pkg/events"
	"fundigo/pkg/validation"
)

// Limits of a review, shared by every entry point (REST, the review.created
// consumer) and the database CHECK constraints (migrations/00030_ratings.sql).
const (
	MaxReviewCommentChars = 2000
	MaxReviewCategoryLen  = 64
	MaxExternalIDLen      = 128
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

// SameContent reports whether two reviews say the same thing (ignoring id
// and created_at): a replayed event or request rather than a conflict.
func (r Review) SameContent(o Review) bool {
	return r.JobID == o.JobID && r.TechnicianID == o.TechnicianID && r.CustomerID == o.CustomerID &&
		r.Rating == o.Rating && r.Comment == o.Comment && r.Category == o.Category
}

// reviewOf converts a normalized, validated input (the body of
// POST /v1/reviews or of a review.created event).
func reviewOf(in events.ReviewCreated) Review {
	return Review{
		JobID: string(in.JobID), TechnicianID: string(in.TechnicianID), CustomerID: string(in.CustomerID),
		Rating: in.Rating, Comment: in.Comment, Category: in.Category,
	}
}

// FieldProblem is one invalid field of an input, by its JSON name.
type FieldProblem = validation.Field

// InvalidError is returned by the commands for an input that fails
// Validate (the one type every domain uses); entry points map it to 422
// (REST) or a dead letter (events).
type InvalidError = validation.Error

// Normalize trims the ids and the category and lower-cases the category, so
// "Plumbing " and "plumbing" land in the same top list.
func Normalize(r events.ReviewCreated) events.ReviewCreated {
	r.JobID = events.ExternalID(strings.TrimSpace(string(r.JobID)))
	r.TechnicianID = events.ExternalID(strings.TrimSpace(string(r.TechnicianID)))
	r.CustomerID = events.ExternalID(strings.TrimSpace(string(r.CustomerID)))
	r.Category = strings.ToLower(strings.TrimSpace(r.Category))
	return r
}

// Validate reports every invalid field of a normalized review (nil when
// valid), including a self-review (customer_id = technician_id). It is the
// one validation of a review, whatever its entry point.
func Validate(r events.ReviewCreated) []FieldProblem {
	var out []FieldProblem
	for _, f := range []struct {
		name string
		v    events.ExternalID
	}{{"job_id", r.JobID}, {"technician_id", r.TechnicianID}, {"customer_id", r.CustomerID}} {
		switch {
		case f.v == "":
			out = append(out, FieldProblem{Field: f.name, Message: "is required"})
		case len(f.v) > MaxExternalIDLen:
			out = append(out, FieldProblem{Field: f.name, Message: fmt.Sprintf("must be at most %d bytes", MaxExternalIDLen)})
		case !validText(string(f.v)):
			out = append(out, FieldProblem{Field: f.name, Message: "must be valid UTF-8 text"})
		}
	}
	if r.CustomerID != "" && r.CustomerID == r.TechnicianID {
		out = append(out, FieldProblem{Field: "customer_id", Message: "must differ from technician_id (no self-reviews)"})
	}
	if r.Rating < 1 || r.Rating > 5 {
		out = append(out, FieldProblem{Field: "rating", Message: "must be an integer from 1 to 5"})
	}
	if !validText(r.Comment) {
		out = append(out, FieldProblem{Field: "comment", Message: "must be valid UTF-8 text"})
	} else if utf8.RuneCountInString(r.Comment) > MaxReviewCommentChars {
		out = append(out, FieldProblem{Field: "comment", Message: fmt.Sprintf("must be at most %d characters", MaxReviewCommentChars)})
	}
	if len(r.Category) > MaxReviewCategoryLen || !validText(r.Category) {
		out = append(out, FieldProblem{Field: "category", Message: fmt.Sprintf("must be valid UTF-8 of at most %d bytes", MaxReviewCategoryLen)})
	}
	return out
}

// validText rejects what PostgreSQL text cannot store (invalid UTF-8, NUL).
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
