package events

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"time"
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

// ReviewCreated is the body of POST /v1/reviews and of a review.created event
// (validated by rating.Validate, whatever the entry point).
type ReviewCreated struct {
	JobID        ExternalID `json:"job_id"`
	TechnicianID ExternalID `json:"technician_id"`
	CustomerID   ExternalID `json:"customer_id"`
	Rating       int        `json:"rating"`
	Comment      string     `json:"comment,omitempty"`
	Category     string     `json:"category,omitempty"`
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

// RoutingKey is rating.updated.
func (RatingUpdated) RoutingKey() string { return RoutingKeyRatingUpdated }

// MessageID is "rating.updated:<technician_id>:<updated_at in µs since the
// epoch>": one event per change, the same id however often it is written.
// pkg/rating writes these rows set-based in SQL with the same formula.
func (r RatingUpdated) MessageID() string {
	return RoutingKeyRatingUpdated + ":" + r.TechnicianID + ":" + strconv.FormatInt(r.UpdatedAt.UnixMicro(), 10)
}
