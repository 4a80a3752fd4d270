package celerycompat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/celery"
	"fundigo/workers/celerycompat"
)

// TestCeleryCLIRemoteControl drives a Go worker with Debian's `celery`
// command line, on both brokers: `inspect ping|registered|active_queues|
// stats|active` list it (active while a Go handler runs a slow task),
// a ping for another node gets no answer from it, `control terminate`
// cancels the running handler (REVOKED "terminated"), and `control revoke`
// keeps a queued countdown task from running (REVOKED, AsyncResult raises
// TaskRevokedError). Each test has its own pidbox namespace
// (control_exchange) and deletes it.
func TestCeleryCLIRemoteControl(t *testing.T) {
	t.Parallel()
	requireCelery(t)
	for _, broker := range brokers {
		t.Run(broker, func(t *testing.T) {
			t.Parallel()
			testRemoteControl(t, broker == "redis")
		})
	}
}

func testRemoteControl(t *testing.T, onRedis bool) {
	var host, ns string
	b := setup(t, options{redis: onRedis, tweak: func(c *celerycompat.Config) {
		c.RemoteControl = true
		c.ControlExchange = "test." + c.Queues[0]
		c.Hostname = "fundigo-" + c.Queues[0] + "@test"
		host, ns = c.Hostname, c.ControlExchange
	}})
	if !onRedis {
		t.Cleanup(func() { deletePidbox(t, host, ns) })
	}
	started := make(chan *celery.Message, 1)
	var adds recorder
	b.start(t, map[string]celerycompat.HandlerFunc{
		"tests.add": adds.wrap(add),
		"tests.slow": func(ctx context.Context, m *celery.Message) (any, error) {
			started <- m
			<-ctx.Done() // until terminated
			return nil, ctx.Err()
		},
	})
	env := "CELERY_CONTROL_EXCHANGE=" + ns
	cli := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, debianPython, append([]string{"-m", "celery", "-A", "celery_driver"}, args...)...)
		cmd.Dir, cmd.Env = "testdata", pythonEnv(b, env)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	// inspect asks only our worker, so the CLI returns at its reply.
	inspect := func(action string) any {
		t.Helper()
		out, err := cli("inspect", action, "-d", host, "-t", "5", "-j")
		require.NoError(t, err, "celery inspect %s: %s", action, out)
		var replies map[string]any
		require.NoError(t, json.Unmarshal(lastLine(out), &replies), out)
		require.Contains(t, replies, host, out)
		return replies[host]
	}

	// The worker's pidbox is listening once a ping is answered.
	require.Eventually(t, func() bool {
		out, err := cli("inspect", "ping", "-j")
		return err == nil && bytes.Contains([]byte(out), []byte(`"`+host+`": {"ok": "pong"}`))
	}, 30*time.Second, 100*time.Millisecond, "celery inspect ping never listed %s", host)

	out, err := cli("inspect", "ping", "-d", "someone@else", "-t", "1")
	require.Error(t, err, "a ping for another node is not answered: %s", out)
	require.Contains(t, out, "No nodes replied")

	require.Equal(t, []any{"tests.add", "tests.slow"}, inspect("registered"))
	queues := inspect("active_queues").([]any)
	require.Len(t, queues, 1)
	require.Equal(t, b.queue, queues[0].(map[string]any)["name"])
	require.Equal(t, b.queue, queues[0].(map[string]any)["routing_key"])
	require.Equal(t, []any{}, inspect("active"), "nothing running yet")

	// inspect active while a Go handler runs a slow task.
	slow := newMessage(t, "tests.slow", "invoice-9")
	b.send(t, slow)
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("tests.slow never started")
	}
	active := inspect("active").([]any)
	require.Len(t, active, 1)
	req := active[0].(map[string]any)
	require.Equal(t, slow.ID, req["id"])
	require.Equal(t, "tests.slow", req["name"])
	require.Equal(t, "tests.slow", req["type"])
	require.Equal(t, []any{"invoice-9"}, req["args"])
	require.Equal(t, map[string]any{}, req["kwargs"])
	require.Equal(t, host, req["hostname"])
	require.Equal(t, false, req["acknowledged"])
	require.NotZero(t, req["worker_pid"])
	require.InDelta(t, float64(time.Now().Unix()), req["time_start"], 30)
	require.Equal(t, b.queue, req["delivery_info"].(map[string]any)["routing_key"])
	stats := inspect("stats").(map[string]any)
	require.Equal(t, map[string]any{"tests.slow": 1.0}, stats["total"])
	require.Equal(t, 4.0, stats["pool"].(map[string]any)["max-concurrency"])

	// control terminate cancels the running handler's context.
	out, err = cli("control", "terminate", "TERM", slow.ID, "-d", host, "-t", "5", "-j")
	require.NoError(t, err, out)
	require.Contains(t, out, "terminate: "+slow.ID)
	meta := b.waitState(t, slow.ID, celery.StateRevoked, 10*time.Second)
	require.Contains(t, string(meta.Result), "TaskRevokedError")
	require.Contains(t, string(meta.Result), "terminated")
	require.Eventually(t, func() bool { return len(inspect("active").([]any)) == 0 }, 10*time.Second, 100*time.Millisecond)

	// control revoke keeps a queued countdown task from running.
	sent := driver(t, b, "send_later", env, "CELERY_COUNTDOWN=4")
	id := sent["id"].(string)
	out, err = cli("control", "revoke", id, "-d", host, "-t", "5", "-j")
	require.NoError(t, err, out)
	require.Contains(t, out, "tasks "+id+" flagged as revoked")
	require.Contains(t, inspect("revoked"), id)
	res := driver(t, b, "result", env, "CELERY_TASK_ID="+id)
	require.Equal(t, "REVOKED", res["state"], "%v", res)
	require.Equal(t, "TaskRevokedError", res["exc_class"])
	require.Equal(t, []any{"revoked"}, res["exc_args"])
	require.False(t, slices.ContainsFunc(adds.calls(), func(m *celery.Message) bool { return m.ID == id }),
		"the revoked task ran")
	require.Zero(t, b.ready(t, b.queue), "the revoked message was settled, not left queued")

	// Another task still runs.
	ok := driver(t, b, "success", env)
	require.Equal(t, 5.0, ok["result"])
}

// lastLine is the CLI's last output line (the JSON with -j).
func lastLine(out string) []byte {
	lines := bytes.Split(bytes.TrimSpace([]byte(out)), []byte("\n"))
	return lines[len(lines)-1]
}

// deletePidbox deletes a test's pidbox exchanges and the worker's node queue
// on RabbitMQ (the clients' reply queues delete themselves).
func deletePidbox(t *testing.T, host, ns string) {
	conn, err := amqp.Dial(amqpxtest.URL())
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer conn.Close() //nolint:errcheck // test cleanup
	for _, f := range []func(ch *amqp.Channel) error{
		func(ch *amqp.Channel) error {
			_, err := ch.QueueDelete(host+"."+ns+".pidbox", false, false, false)
			return err
		},
		func(ch *amqp.Channel) error { return ch.ExchangeDelete(ns+".pidbox", false, false) },
		func(ch *amqp.Channel) error { return ch.ExchangeDelete("reply."+ns+".pidbox", false, false) },
	} {
		ch, err := conn.Channel()
		if err != nil {
			return
		}
		if err := f(ch); err != nil {
			t.Logf("cleanup: %v", err)
		}
		_ = ch.Close()
	}
}
