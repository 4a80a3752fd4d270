package celerycompat_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/workers/celerycompat"
)

// TestEventsSeenByEventReceiver: with events on, Celery's own
// EventReceiver (what Flower and `celery events` use) sees the Go worker
// alive (heartbeats) and its tasks received, started, succeeded with a runtime and
// failed with the exception, on both brokers.
func TestEventsSeenByEventReceiver(t *testing.T) {
	t.Parallel()
	requireCelery(t)
	for _, broker := range brokers {
		t.Run(broker, func(t *testing.T) {
			t.Parallel()
			testEvents(t, broker == "redis")
		})
	}
}

func testEvents(t *testing.T, onRedis bool) {
	var host string
	b := setup(t, options{redis: onRedis, tweak: func(c *celerycompat.Config) {
		c.Events = true
		c.Hostname = "fundigo-" + c.Queues[0] + "@test"
		host = c.Hostname
	}})
	var ticks recorder
	b.start(t, pythonHandlers(t, &ticks))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	recv := exec.CommandContext(ctx, debianPython, "celery_events.py", host)
	recv.Dir, recv.Env = "testdata", pythonEnv(b)
	stdout, err := recv.StdoutPipe()
	require.NoError(t, err)
	var stderr lockedStderr
	recv.Stderr = &stderr
	require.NoError(t, recv.Start())
	t.Cleanup(func() { cancel(); _ = recv.Wait() })
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan(), "receiver saw no event of %s: %s", host, stderr.String())
	require.Equal(t, "ready", lines.Text(), "the worker's heartbeat reaches the receiver")

	ok := driver(t, b, "success")
	failed := driver(t, b, "failure")
	byType := map[string][]map[string]any{}
	for lines.Scan() {
		var ev map[string]any
		require.NoError(t, json.Unmarshal(lines.Bytes(), &ev))
		byType[ev["type"].(string)] = append(byType[ev["type"].(string)], ev)
	}
	require.NoError(t, recv.Wait(), "%s", stderr.String())

	// worker-online went out before the receiver subscribed; heartbeats follow.
	require.NotEmpty(t, byType["worker-heartbeat"], "%v", byType)
	hb := byType["worker-heartbeat"][0]
	require.Equal(t, 2.0, hb["freq"])
	require.Equal(t, "fundigo", hb["sw_ident"])
	find := func(typ, id string) map[string]any {
		for _, ev := range byType[typ] {
			if ev["uuid"] == id {
				return ev
			}
		}
		t.Fatalf("no %s event for %s: %v", typ, id, byType)
		return nil
	}
	rec := find("task-received", ok["id"].(string))
	require.Equal(t, "tests.add", rec["name"])
	require.Equal(t, "(2, 3)", rec["args"], "the client's argsrepr")
	find("task-started", ok["id"].(string))
	succ := find("task-succeeded", ok["id"].(string))
	require.Equal(t, "5", succ["result"])
	require.GreaterOrEqual(t, succ["runtime"], 0.0)
	fail := find("task-failed", failed["id"].(string))
	require.Equal(t, "ValueError('amount must be positive')", fail["exception"])
	for _, evs := range byType {
		for _, ev := range evs {
			require.Equal(t, host, ev["hostname"])
			require.NotZero(t, ev["clock"])
			require.NotZero(t, ev["timestamp"])
		}
	}
}

// lockedStderr is a child's stderr written by os/exec's copier goroutine and
// read by the test.
type lockedStderr struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedStderr) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedStderr) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
