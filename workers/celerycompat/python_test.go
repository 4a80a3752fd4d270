package celerycompat_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/celery"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/workers/celerycompat"
)

// debianPython is Debian's interpreter, which has python3-celery; the
// python3 first on PATH may be another one without it.
const debianPython = "/usr/bin/python3"

// requireCelery skips, saying why, only when Debian's python3-celery is
// missing; .ci/run installs it, so CI always runs these tests.
func requireCelery(t *testing.T) {
	t.Helper()
	out, err := exec.Command(debianPython, "-c", "import celery, redis").CombinedOutput()
	if err != nil {
		t.Skipf("skipping the real-Celery tests: %s cannot import celery (%v: %s); install it with "+
			"`apt-get install -y python3-celery python3-redis` (.ci/run does)", debianPython, err, bytes.TrimSpace(out))
	}
}

// pythonEnv points the Celery client at the test's queue and at the same
// broker and result backend the Go workers use.
func pythonEnv(b *bundle, extra ...string) []string {
	broker := []string{"CELERY_BROKER_URL=" + amqpxtest.URL()}
	if b.kombu != nil {
		broker = []string{"CELERY_BROKER_URL=" + taskstest.URL(), "CELERY_BROKER_KEYPREFIX=" + b.kombu.Options().KeyPrefix}
	}
	env := append(os.Environ(), broker...)
	env = append(env,
		"CELERY_RESULT_BACKEND="+taskstest.URL(),
		"CELERY_QUEUE="+b.queue,
		"CELERY_GET_TIMEOUT=30",
		"PYTHONDONTWRITEBYTECODE=1",
	)
	return append(env, extra...)
}

// driver runs one scenario of testdata/celery_driver.py and decodes the
// JSON object it prints last.
func driver(t *testing.T, b *bundle, scenario string, extra ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, debianPython, "celery_driver.py", scenario)
	cmd.Dir = "testdata"
	cmd.Env = pythonEnv(b, extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "celery_driver.py %s: %s", scenario, stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &out), "output: %s", stdout.String())
	trackIDs(b, out)
	return out
}

func trackIDs(b *bundle, v any) {
	switch x := v.(type) {
	case map[string]any:
		if id, ok := x["id"].(string); ok {
			b.track(id)
		}
		for _, e := range x {
			trackIDs(b, e)
		}
	}
}

// pythonHandlers are the Go side of the scenarios.
func pythonHandlers(t *testing.T, ticks *recorder) map[string]celerycompat.HandlerFunc {
	h := setupHandlers(t)
	handlers := map[string]celerycompat.HandlerFunc{
		"notifications.tasks.send_notification_async": h.handlers[celerycompat.HandlerSendNotification],
		"payments.tasks.process_payment_callback":     h.handlers[celerycompat.HandlerPaymentCallback],
		"ratings.tasks.update_technician_ratings":     h.handlers[celerycompat.HandlerRecomputeRatings],
		"tests.add": add,
		"tests.fail": func(_ context.Context, m *celery.Message) (any, error) {
			var msg string
			if err := celery.Unmarshal(m.Args[0], &msg); err != nil {
				return nil, err
			}
			return nil, celery.ValueError(msg)
		},
		// tests.flaky(n) fails transiently until it runs as the n-th retry.
		"tests.flaky": func(_ context.Context, m *celery.Message) (any, error) {
			var n int
			if err := celery.Unmarshal(m.Args[0], &n); err != nil {
				return nil, err
			}
			if m.Retries < n {
				return nil, fmt.Errorf("provider unavailable (attempt %d)", m.Retries+1)
			}
			return map[string]any{"retries": m.Retries}, nil
		},
		"tests.tick": ticks.wrap(func(context.Context, *celery.Message) (any, error) { return "tock", nil }),
	}
	return handlers
}

// TestPythonCeleryClient runs the real Celery client's scenarios against
// Go workers on both brokers: RabbitMQ and kombu's Redis transport.
func TestPythonCeleryClient(t *testing.T) {
	t.Parallel()
	requireCelery(t)
	for _, broker := range brokers {
		t.Run(broker, func(t *testing.T) {
			t.Parallel()
			testPythonCeleryClient(t, broker == "redis")
		})
	}
}

func testPythonCeleryClient(t *testing.T, onRedis bool) {
	b := setup(t, options{redis: onRedis, tweak: func(c *celerycompat.Config) { c.RetryDelay = 500 * time.Millisecond }})
	var ticks recorder
	b.start(t, pythonHandlers(t, &ticks))

	t.Run("delay returns the Go result", func(t *testing.T) {
		t.Parallel()
		out := driver(t, b, "success")
		require.Equal(t, 5.0, out["result"])
		require.Equal(t, "SUCCESS", out["state"])
	})
	t.Run("failure raises the Python exception", func(t *testing.T) {
		t.Parallel()
		out := driver(t, b, "failure")
		require.Equal(t, "ValueError", out["exc_class"])
		require.Equal(t, "builtins", out["exc_module"], "resolved to the real builtins.ValueError")
		require.Equal(t, true, out["is_value_error"])
		require.Equal(t, []any{"amount must be positive"}, out["exc_args"])
		require.Equal(t, "FAILURE", out["state"])
		require.Contains(t, out["traceback"], "ValueError: amount must be positive")
	})
	t.Run("retry shows RETRY then succeeds with the same id", func(t *testing.T) {
		t.Parallel()
		out := driver(t, b, "retry")
		require.Equal(t, map[string]any{"retries": 2.0}, out["result"])
		require.Contains(t, out["states"], "RETRY")
		require.Equal(t, "SUCCESS", out["state"])
	})
	t.Run("countdown is honoured", func(t *testing.T) {
		t.Parallel()
		out := driver(t, b, "countdown")
		require.Equal(t, 42.0, out["result"])
		require.GreaterOrEqual(t, out["elapsed"], 2.9, "ran before its countdown")
	})
	t.Run("eta is honoured", func(t *testing.T) {
		t.Parallel()
		out := driver(t, b, "eta")
		require.Equal(t, 1.0, out["result"])
		require.GreaterOrEqual(t, out["elapsed"], 1.9)
	})
	t.Run("expired task is revoked", func(t *testing.T) {
		t.Parallel()
		out := driver(t, b, "expires")
		require.Equal(t, "TaskRevokedError", out["exc_class"])
		require.Equal(t, "celery.exceptions", out["exc_module"])
		require.Equal(t, []any{"expired"}, out["exc_args"])
		require.Equal(t, "REVOKED", out["state"])
	})
	t.Run("unexpired task runs", func(t *testing.T) {
		t.Parallel()
		out := driver(t, b, "expires_ok")
		require.Equal(t, 3.0, out["result"])
	})
	t.Run("unknown task raises NotRegistered and is kept", func(t *testing.T) {
		t.Parallel()
		out := driver(t, b, "unknown")
		require.Equal(t, "NotRegistered", out["exc_class"])
		require.Equal(t, "celery.exceptions", out["exc_module"])
		require.Equal(t, "FAILURE", out["state"])
		listed := b.listDeadLetters(t)
		ids := []string{}
		for _, d := range listed {
			ids = append(ids, d.ID)
		}
		require.Contains(t, ids, out["id"])
	})
	t.Run("the three Django tasks run on the native paths", func(t *testing.T) {
		t.Parallel()
		out := driver(t, b, "native", "STK_CALLBACK="+stkCallback)
		notification := out["notification"].(map[string]any)
		require.Equal(t, "SUCCESS", notification["state"], "%v", notification)
		require.NotEmpty(t, notification["result"].(map[string]any)["notification_id"])
		payment := out["payment"].(map[string]any)
		require.Equal(t, "SUCCESS", payment["state"], "%v", payment)
		require.Equal(t, "ws_CO_191220191020363925", payment["result"].(map[string]any)["checkout_request_id"])
		ratings := out["ratings"].(map[string]any)
		require.Equal(t, "SUCCESS", ratings["state"], "%v", ratings)
		require.Equal(t, "celery:"+ratings["id"].(string), ratings["result"].(map[string]any)["task_id"])
	})
	t.Run("celery beat's periodic task runs on Go", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cmd := exec.CommandContext(ctx, debianPython, "-m", "celery", "-A", "celery_driver", "beat",
			"--schedule", filepath.Join(dir, "schedule"), "--pidfile", filepath.Join(dir, "beat.pid"),
			"--max-interval", "1", "--loglevel", "INFO")
		cmd.Dir = "testdata"
		cmd.Env = pythonEnv(b, "CELERY_BEAT_EVERY=1")
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			cancel()
			_ = cmd.Wait()
		})
		require.Eventually(t, func() bool { return len(ticks.calls()) >= 2 }, 60*time.Second, 50*time.Millisecond,
			"beat's tests.tick never ran on the Go worker; beat said:\n%s", &logs)
		for _, m := range ticks.calls() {
			b.track(m.ID)
			require.Equal(t, "tests.tick", m.Task)
			require.JSONEq(t, `"beat"`, string(m.Args[0]))
		}
	})
}

// TestPythonTaskSurvivesKilledWorker: a Go worker process (a child) is
// SIGKILLed in the middle of a task sent by Python; the task is redelivered
// to another worker and its result is written (and published) once.
// On Redis the message stays in kombu's unacked hash until the visibility
// timeout (2s here) has passed, then the new worker restores and runs it.
func TestPythonTaskSurvivesKilledWorker(t *testing.T) {
	t.Parallel()
	requireCelery(t)
	for _, broker := range brokers {
		t.Run(broker, func(t *testing.T) {
			t.Parallel()
			testPythonTaskSurvivesKilledWorker(t, broker)
		})
	}
}

func testPythonTaskSurvivesKilledWorker(t *testing.T, broker string) {
	const visibility = 2 * time.Second
	b := setup(t, options{redis: broker == "redis", visibility: visibility,
		tweak: func(c *celerycompat.Config) { c.RestoreEvery = 100 * time.Millisecond }})
	prefix := taskstest.Prefix(t)

	child := exec.Command(os.Args[0], "-test.run=^TestChildWorker$", "-test.v", "--",
		childMarker, b.queue, b.dlq, b.asynqQ.Default, prefix, broker)
	var childLog bytes.Buffer
	child.Stdout, child.Stderr = &childLog, &childLog
	require.NoError(t, child.Start())
	t.Cleanup(func() {
		_ = child.Process.Kill()
		_ = child.Wait()
	})

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	py := exec.CommandContext(ctx, debianPython, "celery_driver.py", "send", "invoice-7")
	py.Dir = "testdata"
	py.Env = pythonEnv(b)
	stdout, err := py.StdoutPipe()
	require.NoError(t, err)
	var pyErr bytes.Buffer
	py.Stderr = &pyErr
	require.NoError(t, py.Start())
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan(), "driver printed no task id: %s", &pyErr)
	var sent struct{ ID string }
	require.NoError(t, json.Unmarshal(lines.Bytes(), &sent))
	b.track(sent.ID)
	published := subscribeResults(t, b, sent.ID)

	// The child has started the task (and holds it unacked): kill it.
	require.Eventually(t, func() bool {
		n, err := b.rdb.Exists(context.Background(), prefix+"started:"+sent.ID).Result()
		return err == nil && n == 1
	}, 30*time.Second, 20*time.Millisecond, "child never started the task:\n%s", &childLog)
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()
	var heldSince time.Time
	if b.kombu != nil {
		// Held by the dead worker: in unacked, not in the queue.
		require.Zero(t, b.ready(t, b.queue))
		held, err := b.rdb.ZRangeWithScores(context.Background(), b.kombu.Options().KeyPrefix+"unacked_index", 0, -1).Result()
		require.NoError(t, err)
		require.Len(t, held, 1)
		heldSince = time.Unix(0, int64(held[0].Score*1e9))
	}

	// Another worker gets the redelivered task.
	var rec recorder
	b.start(t, map[string]celerycompat.HandlerFunc{
		"tests.slow": rec.wrap(func(_ context.Context, m *celery.Message) (any, error) {
			var ref string
			if err := celery.Unmarshal(m.Args[0], &ref); err != nil {
				return nil, err
			}
			return "paid " + ref, nil
		}),
	})
	require.True(t, lines.Scan(), "driver printed no result: %s", &pyErr)
	var out map[string]any
	require.NoError(t, json.Unmarshal(lines.Bytes(), &out))
	require.NoError(t, py.Wait(), "%s", &pyErr)
	require.Equal(t, "paid invoice-7", out["result"], "%v", out)
	require.Equal(t, "SUCCESS", out["state"])

	calls := rec.calls()
	require.Len(t, calls, 1)
	require.Equal(t, sent.ID, calls[0].ID)
	if b.kombu != nil {
		require.False(t, rec.times()[0].Before(heldSince.Add(visibility)), "restored before the visibility timeout")
		held, err := b.rdb.HLen(context.Background(), b.kombu.Options().KeyPrefix+"unacked").Result()
		require.NoError(t, err)
		require.Zero(t, held, "the restored copy was acked")
	}
	// Exactly one result write reached the channel AsyncResult listens on.
	require.Eventually(t, func() bool { return len(published()) == 1 }, 5*time.Second, 20*time.Millisecond)
	require.Never(t, func() bool { return len(published()) > 1 }, 500*time.Millisecond, 50*time.Millisecond)
	require.Contains(t, published()[0], `"status":"SUCCESS"`)
}

// subscribeResults collects what is published on task id's result channel.
func subscribeResults(t *testing.T, b *bundle, id string) func() []string {
	t.Helper()
	sub := b.rdb.Subscribe(context.Background(), b.backend.Key(id))
	_, err := sub.Receive(context.Background())
	require.NoError(t, err)
	got := make(chan []string, 1)
	got <- nil
	go func() {
		for m := range sub.Channel() {
			all := <-got
			got <- append(all, m.Payload)
		}
	}()
	t.Cleanup(func() { _ = sub.Close() })
	return func() []string {
		all := <-got
		got <- all
		return append([]string(nil), all...)
	}
}

// childMarker is the first argument after "--" that makes TestChildWorker
// act (the arguments follow it: queue, dead-letter queue, park queue,
// Redis key prefix).
const childMarker = "celerycompat-child-worker"

// TestChildWorker is the Go worker process TestPythonTaskSurvivesKilledWorker
// kills: it starts tests.slow, marks it started and never finishes.
func TestChildWorker(t *testing.T) {
	args := flag.Args()
	if len(args) != 6 || args[0] != childMarker {
		t.Skip("helper process for TestPythonTaskSurvivesKilledWorker")
	}
	queue, park, prefix := args[1], args[3], args[4]
	b := &bundle{queue: queue, dlq: args[2]}
	b.rdb = taskstest.Redis(t)
	if args[5] == "redis" {
		b.kombu = newKombu(t, b.rdb, queue, 2*time.Second)
		b.pub = celerycompat.NewRedisPublisher(b.kombu)
	} else {
		b.conn = amqpxtest.Conn(t, testLog(t))
		pub, err := amqpxNewMandatory(b)
		require.NoError(t, err)
		b.pub = pub
	}
	b.backend = celery.NewBackend(b.rdb, celery.BackendConfig{})
	b.tasks = taskstest.Client(t)
	b.cfg = celerycompat.Config{Queues: []string{queue}, DeadLetterQueue: b.dlq,
		ParkQueue: park, Concurrency: 1, Prefetch: 1}
	b.start(t, map[string]celerycompat.HandlerFunc{
		"tests.slow": func(ctx context.Context, m *celery.Message) (any, error) {
			if err := b.rdb.Set(ctx, prefix+"started:"+m.ID, "1", time.Minute).Err(); err != nil {
				return nil, err
			}
			<-make(chan struct{}) // until SIGKILL
			return nil, errors.New("unreachable")
		},
	})
	<-make(chan struct{})
}
