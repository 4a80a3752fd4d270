package ratings

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/config"
	"fundigo/pkg/events"
	"fundigo/pkg/rating"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks/taskstest"
)

type bundle struct {
	deps Deps
	pool *pgxpool.Pool
}

func setup(t *testing.T) *bundle {
	t.Helper()
	pool := storetest.NewPool(t)
	d := Deps{
		Log: zerolog.Nop(),
		Rating: rating.Deps{
			Pool:   pool,
			Cache:  rating.NewCache(taskstest.Redis(t), taskstest.Prefix(t), config.Ratings{CacheTTL: time.Minute, TopCacheTTL: time.Minute}),
			Tasks:  taskstest.Client(t),
			Queues: taskstest.Queues(t),
			Config: config.Ratings{
				PriorWeight: 10, Debounce: 500 * time.Millisecond, BatchSize: 7, Parallelism: 3,
				CacheTTL: time.Minute, TopCacheTTL: time.Minute,
			},
		},
	}
	d.setDefaults()
	require.NoError(t, d.validate())
	return &bundle{deps: d, pool: pool}
}

// seed inserts n reviews spread round-robin over techs technicians.
func (b *bundle) seed(t *testing.T, prefix string, n, techs int) {
	t.Helper()
	s := b.deps.Rating.Store()
	for i := range n {
		_, err := s.InsertReview(context.Background(), rating.Review{
			JobID: fmt.Sprintf("%s-%d", prefix, i), TechnicianID: fmt.Sprintf("tech-%03d", i%techs),
			CustomerID: "cust", Rating: 1 + i%5,
		})
		require.NoError(t, err)
	}
}

func (b *bundle) outboxCount(t *testing.T, technicianID string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `
		SELECT count(*) FROM outbox WHERE routing_key = 'rating.updated'
		AND ($1 = '' OR convert_from(payload, 'UTF8')::jsonb->>'technician_id' = $1)`, technicianID).Scan(&n))
	return n
}

// reviewConsumer returns the review.created consumer's handler as the
// worker runs it (strict typed adapter inside the classifier).
func (b *bundle) reviewConsumer(t *testing.T) func(body string) error {
	t.Helper()
	specs, err := Consumers(b.deps)
	require.NoError(t, err)
	require.Len(t, specs, 1)
	h := amqpx.Chain(specs[0].Handler, amqpx.Classify())
	return func(body string) error {
		ctx := amqpx.WithInfo(t.Context(), amqpx.Info{Queue: specs[0].Queue, RoutingKey: events.RoutingKeyReviewCreated, Attempt: 1})
		return h(ctx, amqp.Delivery{RoutingKey: events.RoutingKeyReviewCreated, Body: []byte(body)})
	}
}
