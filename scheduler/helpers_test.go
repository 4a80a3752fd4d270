package scheduler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/scheduler"
)

// fakeClock is a schedule clock the test moves by hand. Timers fire when Set
// moves the time past their deadline.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeTimer{at: c.now.Add(d), ch: ch})
	return ch
}

// Set moves the clock to now and fires every timer due by then.
func (c *fakeClock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- now
	}
	c.waiters = kept
}

// logSink collects the JSON log lines of every replica.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// lines decodes every log line written so far.
func (s *logSink) lines(t testing.TB) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(s.buf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m))
		out = append(out, m)
	}
	return out
}

// ticks counts "schedule tick" log lines by outcome and task ID.
func (s *logSink) ticks(t testing.TB) map[string]map[string]int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]int{}
	for _, line := range bytes.Split(s.buf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var ev struct {
			Message string `json:"message"`
			Outcome string `json:"outcome"`
			TaskID  string `json:"task_id"`
			Tick    string `json:"tick"`
		}
		require.NoError(t, json.Unmarshal(line, &ev))
		if ev.Message != "schedule tick" {
			continue
		}
		if out[ev.Outcome] == nil {
			out[ev.Outcome] = map[string]int{}
		}
		// The tick is a zerolog time: its text follows the process-wide
		// zerolog.TimeFieldFormat, so compare instants, not spellings.
		tick, err := time.Parse(time.RFC3339Nano, ev.Tick)
		require.NoError(t, err, "tick %q", ev.Tick)
		out[ev.Outcome][rfc(tick)]++
	}
	return out
}

// bundle is one test's isolated world: a schema, queues, a lease key, a clock.
type bundle struct {
	pool     *pgxpool.Pool
	queues   tasks.Queues
	client   *asynq.Client
	insp     *asynq.Inspector
	clock    *fakeClock
	leaseKey string
	logs     *logSink
	log      zerolog.Logger
	records  *store.Schedules
}

// start is the clock's initial time: 30 s before a minute boundary.
var start = time.Date(2030, 1, 1, 0, 0, 30, 0, time.UTC)

func setup(t *testing.T) *bundle {
	t.Helper()
	pool := storetest.NewPool(t)
	logs := &logSink{}
	return &bundle{
		pool:     pool,
		queues:   taskstest.Queues(t),
		client:   taskstest.Client(t),
		insp:     taskstest.Inspector(t),
		clock:    newFakeClock(start),
		leaseKey: taskstest.Prefix(t) + "scheduler:leader",
		logs:     logs,
		log:      zerolog.New(logs).Level(zerolog.DebugLevel),
		records:  store.NewSchedules(pool),
	}
}

// job is a minute schedule on the test's default queue.
func (b *bundle) job(name string, overlap scheduler.OverlapPolicy, missed scheduler.MissedPolicy) scheduler.Schedule {
	return scheduler.Schedule{
		Name: name, Spec: "* * * * *", TimeZone: "UTC", TaskType: "test:" + name,
		Queue: b.queues.Default, Timeout: 10 * time.Second,
		Overlap: overlap, Missed: missed,
	}
}

// replica is one running scheduler.
type replica struct {
	id     string
	rdb    *redis.Client // its own lease connection, closable to simulate a crash
	cancel context.CancelFunc
	done   chan error
}

// startReplica runs a scheduler replica until Cleanup (or until stopped).
func (b *bundle) startReplica(t *testing.T, id string, leaseKey string, schedules []scheduler.Schedule, hasHandler func(string) bool) *replica {
	t.Helper()
	r := &replica{id: id, rdb: taskstest.Redis(t), done: make(chan error, 1)}
	s, err := scheduler.New(scheduler.Deps{
		Log: b.log.With().Str("replica", id).Logger(), Pool: b.pool, Redis: r.rdb,
		Tasks: b.client, Inspector: b.insp, Clock: b.clock,
	}, scheduler.Config{
		Schedules: schedules, LeaseKey: leaseKey, LeaseTTL: time.Second,
		InstanceID: id, HasHandlerFunc: hasHandler,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the replica and waits for Run to return nil.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			require.NoError(t, err)
			close(r.done)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("replica %s did not stop", r.id)
	}
}

// seen counts the task IDs a test worker processed.
type seen struct {
	mu  sync.Mutex
	ids map[string]int
}

func (s *seen) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids[id]++
}

func (s *seen) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.ids))
	for k, v := range s.ids {
		out[k] = v
	}
	return out
}

// serve runs an Asynq worker over the test's queues, with the scheduler
// middleware, calling fn for each task; it returns the processed-ID counter.
func (b *bundle) serve(t *testing.T, schedules []scheduler.Schedule, fn func(ctx context.Context, t *asynq.Task) error) *seen {
	t.Helper()
	s := &seen{ids: map[string]int{}}
	mux := asynq.NewServeMux()
	mux.Use(scheduler.Middleware(b.pool, schedules, b.log))
	for _, sc := range schedules {
		mux.HandleFunc(sc.TaskType, func(ctx context.Context, task *asynq.Task) error {
			id, _ := asynq.GetTaskID(ctx)
			s.add(id)
			if fn != nil {
				return fn(ctx, task)
			}
			return nil
		})
	}
	srv := asynq.NewServer(taskstest.RedisOpt(), asynq.Config{
		Concurrency: 4, Queues: b.queues.Priorities(),
		TaskCheckInterval: 20 * time.Millisecond, DelayedTaskCheckInterval: 100 * time.Millisecond,
		RetryDelayFunc:  func(int, error, *asynq.Task) time.Duration { return time.Hour },
		ShutdownTimeout: 5 * time.Second, Logger: quietLogger{},
	})
	require.NoError(t, srv.Start(mux))
	t.Cleanup(srv.Shutdown)
	return s
}

type quietLogger struct{}

func (quietLogger) Debug(...any) {}
func (quietLogger) Info(...any)  {}
func (quietLogger) Warn(...any)  {}
func (quietLogger) Error(...any) {}
func (quietLogger) Fatal(...any) {}

// taskState returns the Asynq state of a task, or 0 if it does not exist.
func (b *bundle) taskState(queue, id string) asynq.TaskState {
	info, err := b.insp.GetTaskInfo(queue, id)
	if err != nil {
		return 0
	}
	return info.State
}

// waitCompleted waits until the task has run to completion.
func (b *bundle) waitCompleted(t *testing.T, queue, id string, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		return b.taskState(queue, id) == asynq.TaskStateCompleted
	}, within, 10*time.Millisecond, "task %s not completed", id)
}

// waitDeclared waits until some replica led and declared the schedules.
func (b *bundle) waitDeclared(t *testing.T, name string) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := b.records.Get(context.Background(), name)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
}

// record reads a schedule's record.
func (b *bundle) record(t *testing.T, name string) store.Schedule {
	t.Helper()
	rec, err := b.records.Get(context.Background(), name)
	require.NoError(t, err)
	return rec
}

// rfc is how the log writes tick times.
func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// leader returns the lease owner (empty when nobody leads).
func (b *bundle) leader(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	v, err := rdb.Get(context.Background(), b.leaseKey).Result()
	if errors.Is(err, redis.Nil) {
		return ""
	}
	require.NoError(t, err)
	return v
}
