package celerycompat_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/celery"
	"fundigo/pkg/komburedis"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/workers/celerycompat"
)

// bundle is one test's Celery world: its own queue and dead-letter queue on
// the shared RabbitMQ, the real Redis result backend (Celery's fixed key
// names; task ids are UUIDs, so tests do not collide), and Asynq queues for
// parked ETAs.
type bundle struct {
	conn    *amqpx.Conn           // RabbitMQ broker (nil on Redis)
	kombu   *komburedis.Transport // Redis broker (nil on RabbitMQ)
	pub     celerycompat.Publisher
	rdb     *redis.Client
	backend *celery.Backend
	queue   string
	dlq     string
	asynqQ  tasks.Queues
	tasks   *asynq.Client
	cfg     celerycompat.Config

	mu  sync.Mutex
	ids []string // result keys to delete
}

type options struct {
	noAsynqServer bool // park without delivering (restart tests start it later)
	tweak         func(*celerycompat.Config)
	// redis uses kombu's Redis transport as the broker (under a unique
	// global_keyprefix) instead of RabbitMQ; visibility is its visibility
	// timeout (default 30s).
	redis      bool
	visibility time.Duration
}

// brokers are the broker kinds the Python-client tests run against.
var brokers = []string{"amqp", "redis"}

// kombuPrefix is the Redis broker's key prefix for a queue's test.
func kombuPrefix(queue string) string { return "test:" + queue + ":" }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func setup(t *testing.T, opts options) *bundle {
	t.Helper()
	queue := "celery_" + randomHex(6)
	b := &bundle{queue: queue, dlq: queue + ".unknown"}
	b.rdb = taskstest.Redis(t)
	if opts.redis {
		b.kombu = newKombu(t, b.rdb, queue, opts.visibility)
		b.pub = celerycompat.NewRedisPublisher(b.kombu)
	} else {
		t.Cleanup(func() { deleteQueues(t, b.queue, b.dlq) })
		b.conn = amqpxtest.Conn(t, zerolog.Nop())
		pub, err := amqpx.NewPublisher(b.conn, amqpx.PublisherConfig{Mandatory: true})
		require.NoError(t, err)
		t.Cleanup(func() { _ = pub.Close(context.Background()) })
		b.pub = pub
	}
	b.backend = celery.NewBackend(b.rdb, celery.BackendConfig{})
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, id := range b.ids {
			b.rdb.Del(context.Background(), b.backend.Key(id))
		}
	})
	b.asynqQ = taskstest.Queues(t)
	b.tasks = taskstest.Client(t)
	if !opts.noAsynqServer {
		b.serveAsynq(t)
	}
	b.cfg = celerycompat.Config{
		Queues: []string{queue}, DeadLetterQueue: b.dlq, ParkQueue: b.asynqQ.Default,
		Concurrency: 4, Prefetch: 8, RetryDelay: 200 * time.Millisecond, HoldETA: 300 * time.Millisecond,
		RequeueDelay: 50 * time.Millisecond, TaskTimeout: 10 * time.Second,
	}
	if opts.tweak != nil {
		opts.tweak(&b.cfg)
	}
	if opts.redis {
		require.NoError(t, b.kombu.Bind(context.Background(), queue, queue, queue))
		return b
	}
	// Declare as kombu does so publishing works before a consumer runs.
	ch, err := b.conn.Channel(context.Background())
	require.NoError(t, err)
	require.NoError(t, ch.ExchangeDeclare(queue, "direct", true, false, false, false, nil))
	_, err = ch.QueueDeclare(queue, true, false, false, false, nil)
	require.NoError(t, err)
	require.NoError(t, ch.QueueBind(queue, queue, queue, false, nil))
	require.NoError(t, ch.Close())
	return b
}

// serveAsynq runs the Asynq server that republishes parked messages.
func (b *bundle) serveAsynq(t *testing.T) {
	t.Helper()
	mux := asynq.NewServeMux()
	celerycompat.Register(mux, b.pub)
	taskstest.Serve(t, b.asynqQ, mux)
}

// start runs a consumer with handlers (keyed by Celery task name) until the
// returned stop is called or the test ends.
func (b *bundle) start(t *testing.T, handlers map[string]celerycompat.HandlerFunc) (stop func()) {
	t.Helper()
	routes := map[string]string{}
	for name := range handlers {
		routes[name] = name
	}
	reg, err := celerycompat.NewRegistry(routes, handlers)
	require.NoError(t, err)
	deps := celerycompat.Deps{Log: testLog(t), Publisher: b.pub, Backend: b.backend, Tasks: b.tasks, Registry: reg}
	if b.kombu != nil {
		deps.Redis = b.kombu
	} else {
		deps.Conn = b.conn
	}
	c, err := celerycompat.NewConsumer(deps, b.cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(15 * time.Second):
				t.Error("consumer did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// startAdd starts a consumer running only "tests.add" (add), recorded.
func (b *bundle) startAdd(t *testing.T) (rec *recorder, stop func()) {
	t.Helper()
	rec = new(recorder)
	return rec, b.start(t, map[string]celerycompat.HandlerFunc{"tests.add": rec.wrap(add)})
}

// send publishes m as a Python client would: default exchange, routing key =
// queue, confirmed.
func (b *bundle) send(t *testing.T, m *celery.Message) {
	t.Helper()
	b.track(m.ID)
	p, err := m.Publishing()
	require.NoError(t, err)
	require.NoError(t, b.pub.Publish(context.Background(), "", b.queue, p))
}

func (b *bundle) track(id string) {
	b.mu.Lock()
	b.ids = append(b.ids, id)
	b.mu.Unlock()
}

func newMessage(t *testing.T, task string, args ...any) *celery.Message {
	t.Helper()
	m, err := celery.NewMessage(task, args, nil)
	require.NoError(t, err)
	return m
}

// waitState polls the backend until task id reaches state.
func (b *bundle) waitState(t *testing.T, id string, state celery.State, within time.Duration) celery.Meta {
	t.Helper()
	var meta celery.Meta
	require.Eventually(t, func() bool {
		var err error
		meta, err = b.backend.Get(context.Background(), id)
		return err == nil && meta.Status == state
	}, within, 20*time.Millisecond, "task %s never reached %s (last: %s)", id, state, meta.Status)
	return meta
}

// ready is the number of messages waiting (not delivered) in queue, or -1
// while the queue does not exist (yet).
func (b *bundle) ready(t *testing.T, queue string) int {
	t.Helper()
	if b.kombu != nil {
		n, err := b.kombu.Len(context.Background(), queue)
		require.NoError(t, err)
		return int(n)
	}
	ch, err := b.conn.Channel(context.Background())
	require.NoError(t, err)
	defer ch.Close() //nolint:errcheck // test helper
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		return -1
	}
	return q.Messages
}

func deleteQueues(t *testing.T, queue, dlq string) {
	conn, err := amqp.Dial(amqpxtest.URL())
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer conn.Close() //nolint:errcheck // test cleanup
	for _, f := range []func(ch *amqp.Channel) error{
		func(ch *amqp.Channel) error { _, err := ch.QueueDelete(queue, false, false, false); return err },
		func(ch *amqp.Channel) error { _, err := ch.QueueDelete(dlq, false, false, false); return err },
		func(ch *amqp.Channel) error { return ch.ExchangeDelete(queue, false, false) },
	} {
		ch, err := conn.Channel()
		if err != nil {
			return
		}
		_ = f(ch)
		_ = ch.Close()
	}
}

// recorder counts handler calls and remembers the messages.
type recorder struct {
	mu   sync.Mutex
	msgs []*celery.Message
	at   []time.Time
}

func (r *recorder) wrap(h celerycompat.HandlerFunc) celerycompat.HandlerFunc {
	return func(ctx context.Context, m *celery.Message) (any, error) {
		r.mu.Lock()
		r.msgs = append(r.msgs, m)
		r.at = append(r.at, time.Now())
		r.mu.Unlock()
		return h(ctx, m)
	}
}

func (r *recorder) calls() []*celery.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*celery.Message(nil), r.msgs...)
}

func (r *recorder) times() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.at...)
}

// add is the tests' task: the sum of its integer arguments.
func add(_ context.Context, m *celery.Message) (any, error) {
	sum := int64(0)
	for _, raw := range m.Args {
		var n int64
		if err := celery.Unmarshal(raw, &n); err != nil {
			return nil, celery.TypeError("add takes integers")
		}
		sum += n
	}
	return sum, nil
}

// testLog writes the consumer's log to the test output under go test -v.
func testLog(t *testing.T) zerolog.Logger {
	if !testing.Verbose() {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.NewTestWriter(t)).With().Timestamp().Logger()
}

func amqpxNewMandatory(b *bundle) (*amqpx.Publisher, error) {
	return amqpx.NewPublisher(b.conn, amqpx.PublisherConfig{Mandatory: true})
}

// newKombu is the Redis broker of queue's test: every key under
// kombuPrefix(queue), deleted when the test ends.
func newKombu(t *testing.T, rdb *redis.Client, queue string, visibility time.Duration) *komburedis.Transport {
	t.Helper()
	if visibility == 0 {
		visibility = 30 * time.Second
	}
	prefix := kombuPrefix(queue)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	tr, err := komburedis.New(rdb, komburedis.Options{KeyPrefix: prefix, VisibilityTimeout: visibility})
	require.NoError(t, err)
	return tr
}

// listDeadLetters lists the dead-letter queue on either broker.
func (b *bundle) listDeadLetters(t *testing.T) []celerycompat.DeadLetter {
	t.Helper()
	var listed []celerycompat.DeadLetter
	var err error
	if b.kombu != nil {
		listed, err = celerycompat.ListRedisDeadLetters(context.Background(), b.kombu, b.dlq, 100)
	} else {
		listed, err = celerycompat.ListDeadLetters(context.Background(), b.conn, b.dlq, 100)
	}
	require.NoError(t, err)
	return listed
}

// replayDeadLetters replays the matching dead letters on either broker.
func (b *bundle) replayDeadLetters(t *testing.T, match func(celerycompat.DeadLetter) bool) []celerycompat.DeadLetter {
	t.Helper()
	var replayed []celerycompat.DeadLetter
	var err error
	if b.kombu != nil {
		replayed, err = celerycompat.ReplayRedisDeadLetters(context.Background(), b.kombu, b.dlq, 10, match)
	} else {
		replayed, err = celerycompat.ReplayDeadLetters(context.Background(), b.conn, b.pub, b.dlq, 10, match)
	}
	require.NoError(t, err)
	return replayed
}
