package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/outbox"
	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tracing"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bundle is one test's schema, exchange, publisher and consumed messages.
type bundle struct {
	pool     *pgxpool.Pool
	names    *amqpxtest.Namespace
	exchange string
	log      zerolog.Logger
	conn     *amqpx.Conn
	pub      *amqpx.Publisher

	mu       sync.Mutex
	consumed map[string]int // by MessageId
	last     map[string]amqp.Delivery
	spans    map[string]trace.SpanContext // the handler's span context, by MessageId
	reqIDs   map[string]string            // the request id the handler's context carries
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{
		pool:     storetest.NewPool(t),
		names:    amqpxtest.Names(t),
		log:      zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel),
		consumed: map[string]int{},
		last:     map[string]amqp.Delivery{},
		spans:    map[string]trace.SpanContext{},
		reqIDs:   map[string]string{},
	}
	b.exchange = b.names.Exchange("events")
	b.conn = amqpxtest.Conn(t, b.log)
	pub, err := amqpx.NewPublisher(b.conn, amqpx.PublisherConfig{})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, pub.Close(ctx))
	})
	b.pub = pub
	return b
}

// consume binds a queue to the test exchange and records every delivery.
func (b *bundle) consume(t *testing.T) {
	t.Helper()
	spec := amqpx.ConsumerSpec{
		Queue:       b.names.Queue("sink"),
		Exchange:    b.exchange,
		Bindings:    []string{"#"},
		Concurrency: 4,
		Handler: func(ctx context.Context, d amqp.Delivery) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.consumed[d.MessageId]++
			b.last[d.MessageId] = d
			b.spans[d.MessageId] = trace.SpanContextFromContext(ctx)
			b.reqIDs[d.MessageId] = tracing.RequestID(ctx)
			return nil
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, b.conn.Declare(ctx, spec.Topology()))
	c, err := amqpx.NewConsumer(b.conn, b.log, spec)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

func (b *bundle) relay(t *testing.T, cfg outbox.RelayConfig) *outbox.Relay {
	t.Helper()
	if cfg.Exchange == "" {
		cfg.Exchange = b.exchange
	}
	r, err := outbox.NewRelay(b.pool, b.pub, b.log, cfg)
	require.NoError(t, err)
	return r
}

// run runs r until the test ends.
func (b *bundle) run(t *testing.T, r *outbox.Relay) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

func (b *bundle) msg(id string) outbox.Message {
	return outbox.Message{
		ID:         id,
		RoutingKey: "test.happened",
		Type:       "test.happened",
		Payload:    []byte(`{"id":"` + id + `"}`),
	}
}

func (b *bundle) write(t *testing.T, msgs ...outbox.Message) {
	t.Helper()
	b.writeIn(t, context.Background(), msgs...)
}

// writeIn writes msgs in one transaction under parent (a traced context).
func (b *bundle) writeIn(t *testing.T, parent context.Context, msgs ...outbox.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(parent, 10*time.Second)
	defer cancel()
	require.NoError(t, store.WithTx(ctx, b.pool, func(tx pgx.Tx) error {
		for _, m := range msgs {
			if err := outbox.Write(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	}))
}

func (b *bundle) snapshot() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]int, len(b.consumed))
	for k, v := range b.consumed {
		out[k] = v
	}
	return out
}

func (b *bundle) delivery(id string) (amqp.Delivery, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.last[id]
	return d, ok
}

type rowState struct {
	Published bool
	Attempts  int
	LastError *string
}

func (b *bundle) row(t *testing.T, id string) rowState {
	t.Helper()
	var s rowState
	err := b.pool.QueryRow(context.Background(),
		`SELECT published_at IS NOT NULL, attempts, last_error FROM outbox WHERE message_id = $1`, id).
		Scan(&s.Published, &s.Attempts, &s.LastError)
	require.NoError(t, err)
	return s
}

func (b *bundle) count(t *testing.T, where string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE `+where).Scan(&n))
	return n
}

func TestCommittedRowsArePublishedOnNotify(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.consume(t)
	// Polling is off in practice: only LISTEN/NOTIFY can wake the relay.
	b.run(t, b.relay(t, outbox.RelayConfig{PollInterval: time.Hour}))

	m := b.msg("evt-1")
	m.Headers = map[string]string{"trace": "abc"}
	// Give the listener a moment to be up is not needed: it wakes once when
	// it starts listening, and NOTIFY covers everything after.
	before := time.Now().Add(-time.Second)
	b.write(t, m, b.msg("evt-2"), b.msg("evt-3"))

	require.Eventually(t, func() bool { return len(b.snapshot()) == 3 }, 10*time.Second, 10*time.Millisecond)
	d, ok := b.delivery("evt-1")
	require.True(t, ok)
	require.Equal(t, "test.happened", d.Type)
	require.Equal(t, "test.happened", d.RoutingKey)
	require.Equal(t, "application/json", d.ContentType)
	require.Equal(t, `{"id":"evt-1"}`, string(d.Body))
	require.Equal(t, "abc", d.Headers["trace"])
	require.Equal(t, amqp.Persistent, d.DeliveryMode)
	require.True(t, d.Timestamp.After(before), "timestamp is the row's created_at")

	require.Eventually(t, func() bool { return b.count(t, "published_at IS NULL") == 0 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, rowState{Published: true}, b.row(t, "evt-1"))

	// A later commit wakes the relay again.
	b.write(t, b.msg("evt-4"))
	require.Eventually(t, func() bool { return len(b.snapshot()) == 4 }, 10*time.Second, 10*time.Millisecond)
}

func TestRolledBackRowsAreNeverPublished(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.consume(t)
	b.run(t, b.relay(t, outbox.RelayConfig{PollInterval: 20 * time.Millisecond}))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errBusiness := errors.New("payment state changed meanwhile")
	err := store.WithTx(ctx, b.pool, func(tx pgx.Tx) error {
		require.NoError(t, outbox.Write(ctx, tx, b.msg("rolled-back")))
		return errBusiness
	})
	require.ErrorIs(t, err, errBusiness)
	b.write(t, b.msg("committed"))

	require.Eventually(t, func() bool { return b.snapshot()["committed"] == 1 }, 10*time.Second, 10*time.Millisecond)
	// The relay has scanned past the rolled-back row's position: it never existed.
	require.Equal(t, map[string]int{"committed": 1}, b.snapshot())
	require.Equal(t, 0, b.count(t, "message_id = 'rolled-back'"))
}

func TestConcurrentRelaysPublishEachRowOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.consume(t)
	const rows = 1000
	for tx := range 10 {
		var msgs []outbox.Message
		for i := range rows / 10 {
			msgs = append(msgs, b.msg(fmt.Sprintf("m-%d-%d", tx, i)))
		}
		b.write(t, msgs...)
	}
	for i := range 3 {
		b.run(t, b.relay(t, outbox.RelayConfig{Name: fmt.Sprintf("relay-%d", i), BatchSize: 50, PollInterval: 50 * time.Millisecond}))
	}

	require.Eventually(t, func() bool { return len(b.snapshot()) == rows }, 60*time.Second, 20*time.Millisecond)
	require.Equal(t, 0, b.count(t, "published_at IS NULL"))
	require.Equal(t, 0, b.count(t, "attempts > 0"))
	for id, n := range b.snapshot() {
		require.Equal(t, 1, n, "message %s published more than once", id)
	}
}

func TestRelaySurvivesBrokerSideFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Mandatory: while the exchange exists but the queue is not bound yet,
	// the broker returns the message instead of confirming it into nowhere.
	mandatory, err := amqpx.NewPublisher(b.conn, amqpx.PublisherConfig{Mandatory: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, mandatory.Close(context.Background())) })
	r, err := outbox.NewRelay(b.pool, mandatory, b.log, outbox.RelayConfig{
		Exchange: b.exchange, PollInterval: 20 * time.Millisecond, RetryDelay: 50 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond,
	})
	require.NoError(t, err)
	b.run(t, r)

	// The exchange does not exist yet: the broker closes the channel (404)
	// and the publish is never confirmed.
	b.write(t, b.msg("early"))
	require.Eventually(t, func() bool { return b.row(t, "early").Attempts >= 1 }, 10*time.Second, 10*time.Millisecond)
	st := b.row(t, "early")
	require.False(t, st.Published)
	require.NotNil(t, st.LastError)
	require.Contains(t, *st.LastError, "channel closed before publisher confirm")

	// Once the broker side is fixed, the same row goes out.
	b.consume(t)
	require.Eventually(t, func() bool { return b.snapshot()["early"] >= 1 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return b.row(t, "early").Published }, 5*time.Second, 10*time.Millisecond)
}

func TestRelayRelistensAfterConnectionLoss(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.consume(t)
	name := "relay-" + b.names.Prefix()
	b.run(t, b.relay(t, outbox.RelayConfig{Name: name, PollInterval: time.Hour}))

	// pid of the relay's LISTEN backend, 0 while there is none.
	listener := func() int {
		var pid int
		err := b.pool.QueryRow(context.Background(),
			`SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE application_name = $1`, name).Scan(&pid)
		require.NoError(t, err)
		return pid
	}
	require.Eventually(t, func() bool { return listener() != 0 }, 10*time.Second, 10*time.Millisecond)
	first := listener()
	var terminated bool
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT pg_terminate_backend($1)`, first).Scan(&terminated))
	require.True(t, terminated)

	// Only a re-established LISTEN (polling is 1h) can publish this.
	require.Eventually(t, func() bool { p := listener(); return p != 0 && p != first }, 10*time.Second, 10*time.Millisecond)
	b.write(t, b.msg("after-reconnect"))
	require.Eventually(t, func() bool { return b.snapshot()["after-reconnect"] == 1 }, 10*time.Second, 10*time.Millisecond)
}

func TestFlushPublishesEverythingPending(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.consume(t)
	var msgs []outbox.Message
	for i := range 25 {
		msgs = append(msgs, b.msg(fmt.Sprintf("f-%d", i)))
	}
	b.write(t, msgs...)
	// One row is waiting out a retry backoff: Flush sends it anyway.
	_, err := b.pool.Exec(context.Background(),
		`UPDATE outbox SET available_at = now() + interval '1 hour', attempts = 3 WHERE message_id = 'f-0'`)
	require.NoError(t, err)

	r := b.relay(t, outbox.RelayConfig{BatchSize: 10})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, r.Flush(ctx))
	require.Equal(t, 0, b.count(t, "published_at IS NULL"), "Flush returns only when nothing is pending")
	require.Eventually(t, func() bool { return len(b.snapshot()) == 25 }, 10*time.Second, 10*time.Millisecond)
}

func TestFlushReportsFailures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.write(t, b.msg("no-exchange")) // nothing declared the exchange
	r := b.relay(t, outbox.RelayConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := r.Flush(ctx)
	require.ErrorIs(t, err, amqpx.ErrUnconfirmed)
	require.Equal(t, 1, b.row(t, "no-exchange").Attempts)
}

func TestWriteIsIdempotentAndValidates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.write(t, b.msg("same"))
	b.write(t, b.msg("same"), b.msg("same"))
	require.Equal(t, 1, b.count(t, "message_id = 'same'"))

	noID := b.msg("")
	b.write(t, noID)
	require.Equal(t, 1, b.count(t, "message_id <> 'same'"), "an empty ID gets a generated one")

	ctx := context.Background()
	err := store.WithTx(ctx, b.pool, func(tx pgx.Tx) error {
		return outbox.Write(ctx, tx, outbox.Message{ID: "bad"})
	})
	require.ErrorContains(t, err, "routing key is empty")
	require.ErrorContains(t, err, "payload is nil")

	// The exchange is the relay's, named once when it is built.
	_, err = outbox.NewRelay(b.pool, b.pub, b.log, outbox.RelayConfig{})
	require.ErrorContains(t, err, "exchange is empty")
}

func TestCleanupDeletesOnlyOldPublishedRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.write(t, b.msg("old-published"), b.msg("new-published"), b.msg("old-pending"))
	ctx := context.Background()
	_, err := b.pool.Exec(ctx, `UPDATE outbox SET published_at = now() - interval '2 hours' WHERE message_id = 'old-published'`)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE message_id = 'new-published'`)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `UPDATE outbox SET created_at = now() - interval '3 days' WHERE message_id = 'old-pending'`)
	require.NoError(t, err)

	n, err := outbox.Cleanup(ctx, b.pool, time.Hour)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.Equal(t, 0, b.count(t, "message_id = 'old-published'"))
	require.Equal(t, 2, b.count(t, "true"))
}

func TestWriteBatchInsertsAllAndSkipsKnownIDs(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	ctx := context.Background()
	msg := func(id string) outbox.Message {
		return outbox.Message{ID: id, RoutingKey: "k.v", Payload: []byte(`{"id":"` + id + `"}`),
			Headers: map[string]string{"h": id}}
	}
	require.NoError(t, store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		return outbox.WriteBatch(ctx, tx, []outbox.Message{msg("a"), msg("b")})
	}))
	require.NoError(t, store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		return outbox.WriteBatch(ctx, tx, []outbox.Message{msg("b"), msg("c")})
	}))
	rows, err := pool.Query(ctx, `SELECT message_id, headers->>'h', convert_from(payload, 'UTF8') FROM outbox ORDER BY message_id`)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var id, h, p string
		require.NoError(t, rows.Scan(&id, &h, &p))
		require.Equal(t, id, h)
		require.JSONEq(t, `{"id":"`+id+`"}`, p)
		got = append(got, id)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"a", "b", "c"}, got, "b written once")

	err = store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		return outbox.WriteBatch(ctx, tx, []outbox.Message{msg("d"), {ID: "bad"}})
	})
	require.Error(t, err, "an invalid message fails the whole batch")
}

// The trace context of the transaction that wrote an event travels with it:
// outbox row headers → the relay's AMQP headers → the consumer's context
// (amqpx.Trace), with the request id in the baggage. A message written
// outside any trace carries none, and a header set by the writer wins.
func TestTraceContextTravelsFromWriterToConsumer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.consume(t)
	b.run(t, b.relay(t, outbox.RelayConfig{PollInterval: 50 * time.Millisecond}))

	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled,
	})
	ctx := tracing.WithRequestID(trace.ContextWithSpanContext(context.Background(), sc), "req-42")
	b.writeIn(t, ctx, b.msg("traced"))
	b.write(t, b.msg("untraced"))

	require.Eventually(t, func() bool { return len(b.snapshot()) == 2 }, 10*time.Second, 10*time.Millisecond)
	var stored map[string]string
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT headers FROM outbox WHERE message_id = 'traced'`).Scan(&stored))
	require.Equal(t, "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-01", stored["traceparent"])

	d, _ := b.delivery("traced")
	require.Contains(t, d.Headers["traceparent"], "0102030405060708090a0b0c0d0e0f10", "the AMQP message carries the trace")
	ud, _ := b.delivery("untraced")
	require.NotContains(t, ud.Headers, "traceparent")
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Equal(t, sc.TraceID(), b.spans["traced"].TraceID(), "the consumer continues the writer's trace")
	require.Equal(t, "req-42", b.reqIDs["traced"])
	require.False(t, b.spans["untraced"].IsValid())
	require.Empty(t, b.reqIDs["untraced"])
}
