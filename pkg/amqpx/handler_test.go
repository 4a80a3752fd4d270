package amqpx_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/outcome"
	"fundigo/pkg/store"
)

type paid struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

func (p *paid) Validate() error {
	if p.ID == "" {
		return errors.New("id is required")
	}
	return nil
}

func TestJSONHandler(t *testing.T) {
	t.Parallel()
	var got []paid
	h := amqpx.JSON(func(_ context.Context, p paid) error {
		got = append(got, p)
		return nil
	})
	strict := amqpx.JSON(func(context.Context, paid) error { return nil }, amqpx.Strict(), amqpx.MaxBody(64))
	ctx := context.Background()

	require.NoError(t, h(ctx, amqp.Delivery{Body: []byte(`{"id":"p1","amount":5,"extra":1}`)}))
	require.Equal(t, []paid{{"p1", 5}}, got)

	for name, tc := range map[string]struct {
		h    amqpx.HandlerFunc
		body string
	}{
		"not json":       {h, `{"id":`},
		"wrong type":     {h, `{"id":"p1","amount":"5"}`},
		"trailing data":  {h, `{"id":"p1"} {"id":"p2"}`},
		"invalid":        {h, `{"amount":5}`},
		"unknown field":  {strict, `{"id":"p1","extra":1}`},
		"body too large": {strict, fmt.Sprintf(`{"id":"%070d"}`, 1)},
	} {
		err := tc.h(ctx, amqp.Delivery{RoutingKey: "payment.paid", Body: []byte(tc.body)})
		require.True(t, outcome.IsPermanent(err), "%s: %v", name, err)
	}
	require.Len(t, got, 1, "the handler never sees a message that did not decode")
}

func TestClassifyMiddleware(t *testing.T) {
	t.Parallel()
	run := func(err error) error {
		return amqpx.Chain(func(context.Context, amqp.Delivery) error { return err }, amqpx.Classify())(
			context.Background(), amqp.Delivery{})
	}
	require.NoError(t, run(nil))
	require.NoError(t, run(fmt.Errorf("mark paid: %w", store.ErrStaleTransition)), "already done is acked")
	require.True(t, outcome.IsPermanent(run(&pgconn.PgError{Code: "22021"})), "NUL in text is deterministic")
	require.True(t, outcome.IsPermanent(run(&pgconn.PgError{Code: "23505"})))
	retry := run(errors.New("connection refused"))
	require.Error(t, retry)
	require.False(t, outcome.IsPermanent(retry))
}

func TestRecoverAndObserve(t *testing.T) {
	t.Parallel()
	var classes []outcome.Class
	observe := amqpx.Observe(func(_ amqpx.Info, c outcome.Class, _ time.Duration) { classes = append(classes, c) })
	h := amqpx.Chain(func(_ context.Context, d amqp.Delivery) error {
		switch string(d.Body) {
		case "panic":
			panic("boom")
		case "bad":
			return outcome.Permanent(errors.New("bad"))
		}
		return nil
	}, observe, amqpx.Classify(), amqpx.Recover())
	ctx := context.Background()
	require.ErrorContains(t, h(ctx, amqp.Delivery{Body: []byte("panic")}), "handler panic: boom")
	require.Error(t, h(ctx, amqp.Delivery{Body: []byte("bad")}))
	require.NoError(t, h(ctx, amqp.Delivery{Body: []byte("ok")}))
	require.Equal(t, []outcome.Class{outcome.Retry, outcome.PermanentFailure, outcome.AlreadyDone}, classes)
}

func TestDispatch(t *testing.T) {
	t.Parallel()
	var hit []string
	route := func(name string) amqpx.HandlerFunc {
		return func(context.Context, amqp.Delivery) error { hit = append(hit, name); return nil }
	}
	h := amqpx.Dispatch(
		amqpx.Route{Key: "payment.paid", Handler: route("paid")},
		amqpx.Route{Key: "payment.*", Handler: route("other payment")},
	)
	ctx := context.Background()
	require.NoError(t, h(ctx, amqp.Delivery{RoutingKey: "payment.paid"}))
	require.NoError(t, h(ctx, amqp.Delivery{RoutingKey: "payment.failed"}))
	// After a delayed redelivery the delivery's key is the queue name; Info
	// has the original.
	require.NoError(t, h(amqpx.WithInfo(ctx, amqpx.Info{RoutingKey: "payment.paid"}), amqp.Delivery{RoutingKey: "q"}))
	require.True(t, outcome.IsPermanent(h(ctx, amqp.Delivery{RoutingKey: "review.created"})))
	require.Equal(t, []string{"paid", "other payment", "paid"}, hit)
}

func TestTopicMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, key string
		want         bool
	}{
		{"a.b", "a.b", true}, {"a.b", "a.c", false}, {"a.*", "a.b", true}, {"a.*", "a.b.c", false},
		{"a.#", "a", true}, {"a.#", "a.b.c", true}, {"#", "x.y", true}, {"#.c", "a.b.c", true},
		{"*.b.#", "a.b", true}, {"*", "", true}, {"a", "", false},
	} {
		require.Equal(t, tc.want, amqpx.TopicMatch(tc.pattern, tc.key), "%s vs %s", tc.pattern, tc.key)
	}
}
