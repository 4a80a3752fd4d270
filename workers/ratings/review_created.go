package ratings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
	"fundigo/pkg/logging"
	"fundigo/pkg/store"
	"fundigo/pkg/tasks"
)

// handleReviewCreated stores a review published as review.created, with the
// validation of POST /v1/reviews, and schedules the debounced recompute of
// its technician.
//   - malformed or invalid: dead-lettered (Permanent), nothing stored;
//   - the same review again (redelivery, replay): acked, and the recompute is
//     scheduled again in case the first delivery died between the commit and
//     the enqueue (an extra recompute changes nothing and publishes nothing);
//   - a different review for a job that already has one: dead-lettered for an
//     operator, the stored review is kept;
//   - the enqueue fails: requeued (the insert is then a replay).
func handleReviewCreated(d Deps) amqpx.HandlerFunc {
	reviews := store.NewReviews(d.Pool)
	return func(ctx context.Context, m amqp.Delivery) error {
		var in events.ReviewCreated
		dec := json.NewDecoder(bytes.NewReader(m.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return amqpx.Permanent(fmt.Errorf("decode review.created: %w", err))
		}
		in = in.Normalize()
		if probs := in.Validate(); len(probs) > 0 {
			return amqpx.Permanent(fmt.Errorf("invalid review.created for job %s: %s", in.JobID, describe(probs)))
		}
		r, err := reviews.Insert(ctx, store.ReviewFromEvent(in))
		switch {
		case errors.Is(err, store.ErrConflict) && r.SameContent(store.ReviewFromEvent(in)):
			// replay: fall through to the enqueue
		case errors.Is(err, store.ErrConflict):
			return amqpx.Permanent(fmt.Errorf("review.created for job %s conflicts with its stored review %s", in.JobID, r.ID))
		case err != nil:
			return err
		}
		if _, err := tasks.EnqueueRecomputeTechnician(ctx, d.Tasks, d.Queues.Default, r.TechnicianID, d.Now(), d.Config.Debounce); err != nil {
			return err
		}
		zerolog.Ctx(ctx).Debug().Str(logging.FieldTechnicianID, r.TechnicianID).Str("review_id", r.ID).Msg("review accepted")
		return nil
	}
}

func describe(probs []events.FieldProblem) string {
	parts := make([]string, len(probs))
	for i, p := range probs {
		parts[i] = p.Field + " " + p.Message
	}
	return strings.Join(parts, "; ")
}
