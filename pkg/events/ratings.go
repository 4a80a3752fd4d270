package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"
)

// Ratings routing keys on the events exchange.
const (
	// RoutingKeyReviewCreated carries a ReviewCreated: a customer reviewed a
	// job. The Django app may publish it instead of calling POST /v1/reviews;
	// both paths apply the same validation and the same one-review-per-job rule.
	RoutingKeyReviewCreated = "review.created"
	// RoutingKeyRatingUpdated carries a RatingUpdated, published (through the
	// outbox, in the recompute's transaction) only when a technician's numbers
	// changed.
	RoutingKeyRatingUpdated = "rating.updated"
)

// Limits of a review, shared by the REST handler, the event consumer and the
// database CHECK constraints (migrations/00030_ratings.sql).
const (
	MaxReviewCommentChars = 2000
	MaxReviewCategoryLen  = 64
	MaxExternalIDLen      = 128
)

// ExternalID is an id owned by the Django app (job, technician, customer). It
// is kept as a string but also accepts a JSON integer, because Django's
// default primary keys are integers and a publisher may send them unquoted.
type ExternalID string

// UnmarshalJSON accepts a JSON string or a JSON integer; anything else is a
// *json.UnmarshalTypeError, which decoders report with the field's name.
func (id *ExternalID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = ExternalID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return &json.UnmarshalTypeError{Value: "non-id", Type: reflect.TypeFor[string]()}
	}
	if _, err := n.Int64(); err != nil {
		return &json.UnmarshalTypeError{Value: "number " + n.String(), Type: reflect.TypeFor[string]()}
	}
	*id = ExternalID(n.String())
	return nil
}

// ReviewCreated is the body of POST /v1/reviews and of a review.created event.
type ReviewCreated struct {
	JobID        ExternalID `json:"job_id"`
	TechnicianID ExternalID `json:"technician_id"`
	CustomerID   ExternalID `json:"customer_id"`
	Rating       int        `json:"rating"`
	Comment      string     `json:"comment,omitempty"`
	Category     string     `json:"category,omitempty"`
}

// FieldProblem is one invalid field of an input, by its JSON name.
type FieldProblem struct {
	Field   string
	Message string
}

// Normalize trims the ids and the category and lower-cases the category, so
// "Plumbing " and "plumbing" land in the same top list.
func (r ReviewCreated) Normalize() ReviewCreated {
	r.JobID = ExternalID(strings.TrimSpace(string(r.JobID)))
	r.TechnicianID = ExternalID(strings.TrimSpace(string(r.TechnicianID)))
	r.CustomerID = ExternalID(strings.TrimSpace(string(r.CustomerID)))
	r.Category = strings.ToLower(strings.TrimSpace(r.Category))
	return r
}

// Validate reports every invalid field of a normalized review (nil when valid).
func (r ReviewCreated) Validate() []FieldProblem {
	var out []FieldProblem
	for _, f := range []struct {
		name string
		v    ExternalID
	}{{"job_id", r.JobID}, {"technician_id", r.TechnicianID}, {"customer_id", r.CustomerID}} {
		switch {
		case f.v == "":
			out = append(out, FieldProblem{f.name, "is required"})
		case len(f.v) > MaxExternalIDLen:
			out = append(out, FieldProblem{f.name, fmt.Sprintf("must be at most %d bytes", MaxExternalIDLen)})
		case !validText(string(f.v)):
			out = append(out, FieldProblem{f.name, "must be valid UTF-8 text"})
		}
	}
	if r.Rating < 1 || r.Rating > 5 {
		out = append(out, FieldProblem{"rating", "must be an integer from 1 to 5"})
	}
	if !validText(r.Comment) {
		out = append(out, FieldProblem{"comment", "must be valid UTF-8 text"})
	} else if utf8.RuneCountInString(r.Comment) > MaxReviewCommentChars {
		out = append(out, FieldProblem{"comment", fmt.Sprintf("must be at most %d characters", MaxReviewCommentChars)})
	}
	if len(r.Category) > MaxReviewCategoryLen || !validText(r.Category) {
		out = append(out, FieldProblem{"category", fmt.Sprintf("must be valid UTF-8 of at most %d bytes", MaxReviewCategoryLen)})
	}
	return out
}

// validText rejects what PostgreSQL text cannot store (invalid UTF-8, NUL).
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// Distribution counts reviews per star, keyed "1".."5" in JSON.
type Distribution struct {
	One   int `json:"1"`
	Two   int `json:"2"`
	Three int `json:"3"`
	Four  int `json:"4"`
	Five  int `json:"5"`
}

// RatingUpdated is the body of a rating.updated event and the JSON of
// GET /v1/technicians/{id}/rating. Averages are rounded half away from zero
// to 4 decimals.
type RatingUpdated struct {
	TechnicianID    string       `json:"technician_id"`
	Count           int          `json:"count"`
	Average         float64      `json:"average"`
	BayesianAverage float64      `json:"bayesian_average"`
	Distribution    Distribution `json:"distribution"`
	Categories      []string     `json:"categories"`
	LastReviewAt    time.Time    `json:"last_review_at"`
	UpdatedAt       time.Time    `json:"updated_at"`
}
