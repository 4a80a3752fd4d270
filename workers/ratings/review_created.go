package ratings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
	"fundigo/pkg/logging"
	"fundigo/pkg/rating"
)

// handleReviewCreated accepts a review published as review.created with
// rating.AcceptReview (the same operation as POST /v1/reviews), as a service
// principal (the Django app publishes it):
//   - malformed or invalid: dead-lettered (Permanent), nothing stored;
//   - the same review again (redelivery, replay): acked, and the recompute is
//     scheduled again;
//   - a different review for a job that already has one: dead-lettered for an
//     operator, the stored review is kept;
//   - the enqueue fails: requeued (the insert is then a replay).
func handleReviewCreated(d Deps) amqpx.HandlerFunc {
	return func(ctx context.Context, m amqp.Delivery) error {
		var in events.ReviewCreated
		dec := json.NewDecoder(bytes.NewReader(m.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return amqpx.Permanent(fmt.Errorf("decode review.created: %w", err))
		}
		acc, err := rating.AcceptReview(ctx, d.Rating, rating.ServiceAuthor, in, rating.ReturnEnqueueError)
		var invalid *rating.InvalidError
		switch {
		case errors.As(err, &invalid), errors.Is(err, rating.ErrReviewConflict):
			return amqpx.Permanent(fmt.Errorf("review.created for job %s: %w", in.JobID, err))
		case err != nil:
			return err
		}
		zerolog.Ctx(ctx).Debug().Str(logging.FieldTechnicianID, acc.Review.TechnicianID).Str("review_id", acc.Review.ID).
			Bool("replay", acc.Replay).Msg("review accepted")
		return nil
	}
}
