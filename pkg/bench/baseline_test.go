package bench

import (
	"context"
	"testing"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks/taskstest"
)

func TestPostgresCommitBaseline(t *testing.T) {
	t.Parallel()
	before := storetest.Schemas(t, `bench\_%`)
	res, err := PostgresCommit(context.Background(), storetest.URL(), 256, Options{Concurrency: 4, Count: 40})
	require.NoError(t, err)
	require.EqualValues(t, 40, res.Ops)
	require.Zero(t, res.Errors)
	require.NotNil(t, res.Latency)
	storetest.RequireNoNewSchemas(t, `bench\_%`, before)
}

func TestAsynqNoopBaseline(t *testing.T) {
	t.Parallel()
	res, err := AsynqNoop(context.Background(), taskstest.RedisOpt(), 4, Options{Concurrency: 4, Count: 30})
	require.NoError(t, err)
	require.EqualValues(t, 30, res.Ops, res.FirstError)
}

func TestRabbitBaselines(t *testing.T) {
	t.Parallel()
	cfg := RabbitConfig{URL: amqpxtest.URL(), MessageBytes: 128, Consumers: 2, Prefetch: 8}
	pub, cons, err := RabbitPublishConsume(context.Background(), cfg, Options{Concurrency: 4, Count: 30})
	require.NoError(t, err)
	require.EqualValues(t, 30, pub.Ops, pub.FirstError)
	require.EqualValues(t, 30, cons.Ops, "every published message was consumed")
	require.Equal(t, "batch", cons.Mode)

	rt, err := RabbitRoundTrip(context.Background(), cfg, Options{Concurrency: 4, Count: 30})
	require.NoError(t, err)
	require.EqualValues(t, 30, rt.Ops, rt.FirstError)
}

func TestListenSeesEventsWithoutTakingThem(t *testing.T) {
	t.Parallel()
	ns := amqpxtest.Names(t)
	exchange := ns.Exchange("events")
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 10)
	wait, err := Listen(ctx, amqpxtest.URL(), exchange, []string{"payment.*"}, func(d amqp.Delivery) { got <- d.RoutingKey + " " + d.MessageId })
	require.NoError(t, err)
	conn, err := amqp.Dial(amqpxtest.URL())
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.Publish(exchange, "review.created", false, false, amqp.Publishing{MessageId: "r1"}))
	require.NoError(t, ch.Publish(exchange, "payment.paid", false, false, amqp.Publishing{MessageId: "p1"}))
	require.Equal(t, "payment.paid p1", <-got, "only bound keys arrive")
	cancel()
	wait()
}

// DeleteAsynqQueues leaves none of a queue's keys behind, the statistics
// counters Asynq's own DeleteQueue keeps included.
func TestDeleteAsynqQueuesLeavesNoKeys(t *testing.T) {
	t.Parallel()
	rc := taskstest.Redis(t)
	q := "bench_" + uuid.NewString()
	keys := []string{"asynq:{" + q + "}:processed", "asynq:{" + q + "}:processed:2026-12-03", "asynq:{" + q + "}:failed"}
	for _, k := range keys {
		require.NoError(t, rc.Set(t.Context(), k, 3, 0).Err())
	}
	DeleteAsynqQueues(taskstest.RedisOpt(), q)
	n, err := rc.Exists(t.Context(), keys...).Result()
	require.NoError(t, err)
	require.Zero(t, n)
}
