package rating_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"fundigo/pkg/config"
	"fundigo/pkg/events"
	"fundigo/pkg/rating"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks/taskstest"
)

// AcceptReview is what POST /v1/reviews and the review.created consumer
// both call: the review is normalized, validated and stored (one per job),
// and a debounced recompute of the technician's rating is scheduled. The
// same review again is a replay (nothing stored twice); an invalid one
// lists its bad fields.
func ExampleAcceptReview() {
	storetest.Example("ExampleAcceptReview", func(t testing.TB) {
		ctx := context.Background()
		cfg := config.Ratings{PriorWeight: 10, Debounce: time.Second, BatchSize: 100, CacheTTL: time.Minute, TopCacheTTL: time.Minute}
		d := rating.Deps{Pool: storetest.NewPool(t), Cache: rating.NewCache(taskstest.Redis(t), taskstest.Prefix(t), cfg),
			Tasks: taskstest.Client(t), Queues: taskstest.Queues(t), Config: cfg}
		review := events.ReviewCreated{JobID: "42", TechnicianID: "7", CustomerID: "cust-1", Rating: 5, Category: " Plumbing "}
		for range 2 {
			acc, err := rating.AcceptReview(ctx, d, rating.ServiceAuthor, review, rating.ReturnEnqueueError)
			fmt.Println(acc.Review.JobID, acc.Review.TechnicianID, acc.Review.Rating, acc.Review.Category, acc.Replay, err)
		}
		scheduled, _ := taskstest.Inspector(t).ListScheduledTasks(d.Queues.Default)
		fmt.Println("recomputes scheduled:", len(scheduled))

		_, err := rating.AcceptReview(ctx, d, rating.ServiceAuthor,
			events.ReviewCreated{JobID: "43", TechnicianID: "7", CustomerID: "cust-1", Rating: 6}, rating.ReturnEnqueueError)
		var invalid *rating.InvalidError
		if errors.As(err, &invalid) {
			fmt.Println("invalid:", invalid.Fields[0].Field)
		}
	})
	// Output:
	// 42 7 5 plumbing false <nil>
	// 42 7 5 plumbing true <nil>
	// recomputes scheduled: 1
	// invalid: rating
}
