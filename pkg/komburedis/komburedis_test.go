package komburedis_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/komburedis"
	"fundigo/pkg/tasks/taskstest"
)

// newTransport is a transport on the test Redis under a unique
// global_keyprefix (every key deleted afterwards).
func newTransport(t *testing.T, opt komburedis.Options) *komburedis.Transport {
	t.Helper()
	opt.KeyPrefix = taskstest.Prefix(t)
	tr, err := komburedis.New(taskstest.Redis(t), opt)
	require.NoError(t, err)
	return tr
}

func envelope(body string, priority int) komburedis.Envelope {
	return komburedis.NewEnvelope([]byte(body), "application/json", "utf-8",
		map[string]any{"id": body}, komburedis.Properties{CorrelationID: body, Priority: priority})
}

func TestPriorityListsAndOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tr := newTransport(t, komburedis.Options{})
	p := tr.Options().KeyPrefix
	require.Equal(t, []string{p + "q", p + "q\x06\x163", p + "q\x06\x166", p + "q\x06\x169"}, tr.QueueKeys("q"))
	require.NoError(t, tr.Publish(ctx, "", "q", envelope("low", 9)))
	require.NoError(t, tr.Publish(ctx, "", "q", envelope("five", 5)))
	require.NoError(t, tr.Publish(ctx, "", "q", envelope("first", 0)))
	require.NoError(t, tr.Publish(ctx, "", "q", envelope("second", 0)))
	n, err := tr.Client().LLen(ctx, p+"q\x06\x163").Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "priority 5 is in the step-3 list")

	var got []string
	for range 4 {
		d, err := tr.Receive(ctx, []string{"q"}, time.Second)
		require.NoError(t, err)
		require.NotNil(t, d)
		require.NoError(t, d.Err)
		require.Equal(t, "q", d.Queue)
		body, err := d.Envelope.DecodedBody()
		require.NoError(t, err)
		got = append(got, string(body))
		require.NoError(t, tr.Ack(ctx, d.Tag))
	}
	require.Equal(t, []string{"first", "second", "five", "low"}, got, "FIFO within a priority, lower step first")
	d, err := tr.Receive(ctx, []string{"q"}, 100*time.Millisecond)
	require.NoError(t, err)
	require.Nil(t, d, "empty queue times out")
	for _, k := range []string{"unacked", "unacked_index"} {
		n, err := tr.Client().Exists(ctx, p+k).Result()
		require.NoError(t, err)
		require.Zero(t, n, "%s emptied by the acks", k)
	}
}

// Peek reads the oldest messages first, priority 0 before the steps, and
// leaves them in place.
func TestPeekOldestFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tr := newTransport(t, komburedis.Options{})
	p := tr.Options().KeyPrefix
	for _, body := range []string{"a", "b", "c", "d"} {
		require.NoError(t, tr.Publish(ctx, "", "q", envelope(body, 0)))
	}
	require.NoError(t, tr.Publish(ctx, "", "q", envelope("low", 4)))
	ids := func(raws []string) []string {
		var out []string
		for _, raw := range raws {
			var env komburedis.Envelope
			require.NoError(t, json.Unmarshal([]byte(raw), &env))
			out = append(out, env.Properties.CorrelationID)
		}
		return out
	}
	keys, raws, err := tr.Peek(ctx, "q", 2)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, ids(raws))
	require.Equal(t, []string{p + "q", p + "q"}, keys)
	keys, raws, err = tr.Peek(ctx, "q", 10)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "d", "low"}, ids(raws))
	require.Equal(t, p+"q\x06\x163", keys[4])
	n, err := tr.Len(ctx, "q")
	require.NoError(t, err)
	require.EqualValues(t, 5, n, "peeking removes nothing")
}

func TestBindingsRoute(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tr := newTransport(t, komburedis.Options{})
	p := tr.Options().KeyPrefix
	require.NoError(t, tr.Bind(ctx, "tasks", "tasks", "tasks"))
	members, err := tr.Client().SMembers(ctx, p+"_kombu.binding.tasks").Result()
	require.NoError(t, err)
	require.Equal(t, []string{"tasks\x06\x16\x06\x16tasks"}, members)
	require.NoError(t, tr.Publish(ctx, "tasks", "tasks", envelope("x", 0)))
	n, err := tr.Len(ctx, "tasks")
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func TestUnackedRestoredAfterVisibilityTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tr := newTransport(t, komburedis.Options{VisibilityTimeout: time.Minute, Now: clock})
	p := tr.Options().KeyPrefix
	require.NoError(t, tr.Publish(ctx, "", "q", envelope("held", 0)))
	d, err := tr.Receive(ctx, []string{"q"}, time.Second)
	require.NoError(t, err)
	require.False(t, d.Envelope.Redelivered())

	// The unacked entry is kombu's [message, exchange, routing_key].
	entry, err := tr.Client().HGet(ctx, p+"unacked", d.Tag).Result()
	require.NoError(t, err)
	var parts []json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(entry), &parts))
	require.Len(t, parts, 3)
	require.JSONEq(t, string(d.Raw), string(parts[0]))
	require.JSONEq(t, `""`, string(parts[1]))
	require.JSONEq(t, `"q"`, string(parts[2]))
	score, err := tr.Client().ZScore(ctx, p+"unacked_index", d.Tag).Result()
	require.NoError(t, err)
	require.InDelta(t, float64(now.UnixNano())/1e9, score, 0.001)

	n, err := tr.RestoreVisible(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "still within the visibility timeout")

	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	n, err = tr.RestoreVisible(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	again, err := tr.Receive(ctx, []string{"q"}, time.Second)
	require.NoError(t, err)
	require.NotNil(t, again)
	require.Equal(t, d.Tag, again.Tag)
	require.True(t, again.Envelope.Redelivered())
	require.Equal(t, true, again.Envelope.Headers["redelivered"])
	require.NoError(t, tr.Ack(ctx, again.Tag))

	// The mutex was released, and a held one makes the pass skip.
	require.NoError(t, tr.Client().Set(ctx, p+"unacked_mutex", "python", time.Minute).Err())
	_, err = tr.RestoreVisible(ctx)
	require.ErrorIs(t, err, komburedis.ErrMutexHeld)
}

func TestRestoreRequeueAndGarbage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tr := newTransport(t, komburedis.Options{})
	p := tr.Options().KeyPrefix
	require.NoError(t, tr.Publish(ctx, "", "q", envelope("a", 0)))
	require.NoError(t, tr.Publish(ctx, "", "q", envelope("b", 0)))
	d, err := tr.Receive(ctx, []string{"q"}, time.Second)
	require.NoError(t, err)
	require.NoError(t, tr.Restore(ctx, d.Tag, true)) // reject with requeue: to the back
	require.NoError(t, tr.Restore(ctx, d.Tag, true), "restoring twice is a no-op")
	var order []string
	for range 2 {
		d, err := tr.Receive(ctx, []string{"q"}, time.Second)
		require.NoError(t, err)
		order = append(order, d.Envelope.Properties.CorrelationID)
		require.NoError(t, tr.Ack(ctx, d.Tag))
	}
	require.Equal(t, []string{"b", "a"}, order)

	require.NoError(t, tr.Client().LPush(ctx, p+"q", "not json").Err())
	d, err = tr.Receive(ctx, []string{"q"}, time.Second)
	require.NoError(t, err)
	require.Error(t, d.Err)
	require.Equal(t, "not json", string(d.Raw))
	n, err := tr.Client().HLen(ctx, p+"unacked").Result()
	require.NoError(t, err)
	require.Zero(t, n, "garbage is not recorded as unacked")
}

// Restore watches the whole unacked hash, which every other delivery and
// ack of the broker writes: a transaction aborted by one of those is retried
// (as redis-py's client.transaction does), not reported as a failed restore.
func TestRestoreRetriesWhenUnackedChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tr := newTransport(t, komburedis.Options{})
	p := tr.Options().KeyPrefix
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // another consumer's deliveries and acks
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = tr.Client().HSet(ctx, p+"unacked", "other", i).Err()
		}
	})
	const n = 50
	for i := range n {
		require.NoError(t, tr.Publish(ctx, "", "q", envelope(strconv.Itoa(i), 0)))
		d, err := tr.Receive(ctx, []string{"q"}, time.Second)
		require.NoError(t, err)
		require.NoError(t, tr.Restore(ctx, d.Tag, true), "restore %d", i)
	}
	close(stop)
	wg.Wait()
	l, err := tr.Len(ctx, "q")
	require.NoError(t, err)
	require.EqualValues(t, n, l, "every restore put its message back")
	held, err := tr.Client().ZCard(ctx, p+"unacked_index").Result()
	require.NoError(t, err)
	require.Zero(t, held)
}

// TestPythonKombuInterop checks the layout against Debian's python3-kombu:
// Python publishes and Go receives; Go publishes and Python receives; a
// message Go holds unacked past the visibility timeout is restored by
// Python's own restore_visible.
func TestPythonKombuInterop(t *testing.T) {
	t.Parallel()
	if out, err := exec.Command("/usr/bin/python3", "-c", "import kombu, redis").CombinedOutput(); err != nil {
		t.Skipf("skipping: /usr/bin/python3 cannot import kombu (%v: %s); apt-get install -y python3-celery python3-redis",
			err, strings.TrimSpace(string(out)))
	}
	ctx := context.Background()
	tr := newTransport(t, komburedis.Options{VisibilityTimeout: time.Second})
	p := tr.Options().KeyPrefix
	py := func(script string) string {
		t.Helper()
		prelude := `
import json, sys, time
from kombu import Connection, Exchange, Queue
conn = Connection(sys.argv[1], transport_options={"global_keyprefix": sys.argv[2], "visibility_timeout": 0})
q = Queue("interop", Exchange("interop", type="direct"), routing_key="interop")
`
		cmd := exec.Command("/usr/bin/python3", "-c", prelude+script, taskstest.URL(), p)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return strings.TrimSpace(string(out))
	}
	py(`
with conn.Producer() as prod:
    prod.publish({"from": "python"}, exchange=q.exchange, routing_key="interop", declare=[q], priority=4, headers={"h": 1})
`)
	d, err := tr.Receive(ctx, []string{"interop"}, time.Second)
	require.NoError(t, err)
	require.NotNil(t, d)
	require.NoError(t, d.Err)
	body, err := d.Envelope.DecodedBody()
	require.NoError(t, err)
	require.JSONEq(t, `{"from": "python"}`, string(body))
	require.Equal(t, "interop", d.Envelope.Properties.DeliveryInfo.Exchange)
	require.EqualValues(t, 1, d.Envelope.Headers["h"])
	// Held unacked by Go past Python's visibility timeout (0 here): Python restores it.
	out := py(`
ch = conn.default_channel
ch.qos.restore_visible(num=10)
with conn.SimpleQueue(q) as sq:
    m = sq.get(timeout=5)
    print(json.dumps({"body": m.payload, "redelivered": m.delivery_info.get("redelivered")}))
    m.ack()
`)
	require.JSONEq(t, `{"body": {"from": "python"}, "redelivered": true}`, out)
	n, err := tr.Client().HLen(ctx, p+"unacked").Result()
	require.NoError(t, err)
	require.Zero(t, n)

	env := komburedis.NewEnvelope([]byte(`{"from": "go"}`), "application/json", "utf-8", map[string]any{"k": "v"},
		komburedis.Properties{Priority: 7})
	require.NoError(t, tr.Publish(ctx, "interop", "interop", env))
	out = py(`
with conn.SimpleQueue(q) as sq:
    m = sq.get(timeout=5)
    print(json.dumps({"body": m.payload, "headers": m.headers, "priority": m.properties.get("priority")}))
    m.ack()
`)
	require.JSONEq(t, `{"body": {"from": "go"}, "headers": {"k": "v"}, "priority": 7}`, out)
}
