package ratings

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
	"fundigo/pkg/logging"
	"fundigo/pkg/outcome"
	"fundigo/pkg/rating"
)

// handleReviewCreated accepts a review published as review.created with
// rating.AcceptReview (the same operation as POST /v1/reviews), as a service
// principal (the Django app publishes it):
//   - invalid (*rating.InvalidError): dead-lettered by the classifier,
//     nothing stored;
//   - the same review again (redelivery, replay): acked, and the recompute is
//     scheduled again;
//   - a different review for a job that already has one: dead-lettered for an
//     operator, the stored review is kept;
//   - the enqueue fails: retried (the insert is then a replay).
func handleReviewCreated(d Deps) amqpx.Handler[events.ReviewCreated] {
	return func(ctx context.Context, in events.ReviewCreated) error {
		acc, err := rating.AcceptReview(ctx, d.Rating, rating.ServiceAuthor, in, rating.ReturnEnqueueError)
		switch {
		case errors.Is(err, rating.ErrReviewConflict):
			return outcome.Permanent(fmt.Errorf("review.created for job %s: %w", in.JobID, err))
		case err != nil:
			return fmt.Errorf("review.created for job %s: %w", in.JobID, err)
		}
		zerolog.Ctx(ctx).Debug().Str(logging.FieldTechnicianID, acc.Review.TechnicianID).Str("review_id", acc.Review.ID).
			Bool("replay", acc.Replay).Msg("review accepted")
		return nil
	}
}
