package ratings

import (
	"github.com/hibiken/asynq"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/events"
	"fundigo/pkg/tasks"
)

// Register adds the ratings task handlers to mux, or reports invalid deps.
func Register(mux *asynq.ServeMux, deps Deps) error {
	deps.setDefaults()
	if err := deps.validate(); err != nil {
		return err
	}
	mux.Handle(tasks.TypeRatingsRecomputeTechnician, tasks.JSON(handleRecomputeTechnician(deps)))
	mux.Handle(tasks.TypeRatingsRecomputeAll, tasks.JSON(handleRecomputeAll(deps)))
	return nil
}

// TaskTypes are the task types Register handles, for listings that must
// not build the workers (`fundigo scheduler list`).
func TaskTypes() []string {
	return []string{tasks.TypeRatingsRecomputeTechnician, tasks.TypeRatingsRecomputeAll}
}

// ReviewsQueue is the AMQP queue of the review.created consumer.
func ReviewsQueue(prefix string) string { return prefix + "ratings.reviews" }

// Consumers returns the RabbitMQ consumers of the ratings domain: reviews
// published by the Django app as review.created (decoded strictly: an
// unknown field is dead-lettered). It reports invalid deps.
func Consumers(deps Deps) ([]amqpx.ConsumerSpec, error) {
	deps.setDefaults()
	if err := deps.validate(); err != nil {
		return nil, err
	}
	return []amqpx.ConsumerSpec{{
		Queue:         ReviewsQueue(deps.QueuePrefix),
		Bindings:      []string{events.RoutingKeyReviewCreated},
		Concurrency:   deps.Concurrency,
		DeliveryLimit: deps.DeliveryLimit,
		Name:          amqpx.FuncName(handleReviewCreated),
		Handler:       amqpx.JSON(handleReviewCreated(deps), amqpx.Strict()),
	}}, nil
}
