package celerycompat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/celery"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/workers/celerycompat"
)

// TestPythonAndGoWorkersShareRedis: a real Python Celery worker and a Go
// worker on one Redis broker, 1,000 tasks from a real Celery client. Tasks
// with a Go handler (tests.add) are routed to a queue both workers consume;
// Python-only tasks (legacy.report) to a queue only Python consumes. Every
// task runs exactly once, Python-only ones only on Python, and every result
// comes back through AsyncResult.
func TestPythonAndGoWorkersShareRedis(t *testing.T) {
	t.Parallel()
	requireCelery(t)
	const tasks = 1000
	b := setup(t, options{redis: true})
	pyQueue := b.queue + ".py"
	runs := taskstest.Prefix(t) + "runs:"
	b.start(t, map[string]celerycompat.HandlerFunc{
		"tests.add": func(ctx context.Context, m *celery.Message) (any, error) {
			if err := b.rdb.RPush(ctx, runs+m.ID, "go").Err(); err != nil {
				return nil, err
			}
			return add(ctx, m)
		},
	})
	env := append(os.Environ(), "CELERY_BROKER_URL="+taskstest.URL(), "CELERY_RESULT_BACKEND="+taskstest.URL(),
		"CELERY_BROKER_KEYPREFIX="+b.kombu.Options().KeyPrefix, "MIXED_GO_QUEUE="+b.queue, "MIXED_PY_QUEUE="+pyQueue,
		"MIXED_RUNS_PREFIX="+runs, "CELERY_GET_TIMEOUT=60", "PYTHONDONTWRITEBYTECODE=1")

	ctx, cancel := context.WithCancel(context.Background())
	worker := exec.CommandContext(ctx, debianPython, "-m", "celery", "-A", "celery_mixed", "worker",
		"-P", "threads", "-c", "4", "-Q", b.queue+","+pyQueue, "-n", "py-"+b.queue+"@%h",
		"--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "WARNING")
	worker.Dir, worker.Env = "testdata", env
	worker.Cancel = func() error { return worker.Process.Signal(syscall.SIGTERM) } // warm shutdown
	worker.WaitDelay = 20 * time.Second
	var workerLog bytes.Buffer
	worker.Stdout, worker.Stderr = &workerLog, &workerLog
	require.NoError(t, worker.Start())
	t.Cleanup(func() {
		cancel()
		_ = worker.Wait()
	})

	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer scancel()
	client := exec.CommandContext(sctx, debianPython, "celery_mixed.py", "send", "1000")
	client.Dir, client.Env = "testdata", env
	var stdout, stderr bytes.Buffer
	client.Stdout, client.Stderr = &stdout, &stderr
	require.NoError(t, client.Run(), "client: %s\nworker: %s", &stderr, &workerLog)
	var out struct {
		Go, Legacy []string
		Wrong      [][]any
		Elapsed    float64
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &out), "%s", &stdout)
	require.Len(t, out.Go, tasks/2)
	require.Len(t, out.Legacy, tasks/2)
	require.Empty(t, out.Wrong, "results as Python computes them")

	ranOn := map[string]int{}
	check := func(ids []string, pythonOnly bool) {
		for _, id := range ids {
			b.track(id)
			who, err := b.rdb.LRange(context.Background(), runs+id, 0, -1).Result()
			require.NoError(t, err)
			require.Len(t, who, 1, "task %s ran %v", id, who)
			if pythonOnly {
				require.Equal(t, "python", who[0], "a Python-only task ran on Go")
			}
			ranOn[who[0]]++
		}
	}
	check(out.Go, false)
	check(out.Legacy, true)
	require.Positive(t, ranOn["go"], "the Go worker ran some of the shared queue")
	t.Logf("1,000 tasks in %.1fs: %d on Go, %d on Python (%d of them Python-only)",
		out.Elapsed, ranOn["go"], ranOn["python"], len(out.Legacy))

	// Nothing left held or queued.
	for _, q := range []string{b.queue, pyQueue} {
		require.Zero(t, b.ready(t, q), "queue %s drained", q)
	}
	require.Eventually(t, func() bool {
		n, err := b.rdb.HLen(context.Background(), b.kombu.Options().KeyPrefix+"unacked").Result()
		return err == nil && n == 0
	}, 10*time.Second, 50*time.Millisecond, "every delivery acked")
}
