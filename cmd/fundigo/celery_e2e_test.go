package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/tasks/taskstest"
)

// TestCeleryDropInEndToEnd runs `fundigo all` with the Celery drop-in on and
// a real Celery client (Debian's python3-celery) calling the Django tasks:
// their results come back through AsyncResult, the notification is visible
// in the API, and an unknown task lands in the dead-letter queue that
// `fundigo celery dlq list|replay` operate on. It runs on both brokers:
// RabbitMQ and kombu's Redis transport (FUNDIGO_CELERY_BROKER_URL=redis://).
func TestCeleryDropInEndToEnd(t *testing.T) {
	t.Parallel()
	for _, broker := range []string{"amqp", "redis"} {
		t.Run(broker, func(t *testing.T) {
			t.Parallel()
			testCeleryDropInEndToEnd(t, broker == "redis")
		})
	}
}

func testCeleryDropInEndToEnd(t *testing.T, onRedis bool) {
	if out, err := exec.Command("/usr/bin/python3", "-c", "import celery, redis").CombinedOutput(); err != nil {
		t.Skipf("skipping: /usr/bin/python3 cannot import celery (%v: %s); apt-get install -y python3-celery python3-redis (.ci/run does)",
			err, bytes.TrimSpace(out))
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	queue := "celery_" + hex.EncodeToString(b)
	env := map[string]string{
		"FUNDIGO_CELERY_ENABLED":           "true",
		"FUNDIGO_CELERY_QUEUES":            queue,
		"FUNDIGO_CELERY_DEAD_LETTER_QUEUE": queue + ".unknown",
		"FUNDIGO_CELERY_RESULT_URL":        taskstest.URL(),
		"FUNDIGO_CELERY_CONTROL_EXCHANGE":  celeryControlExchange(queue),
		"FUNDIGO_CELERY_HOSTNAME":          "fundigo-" + queue + "@e2e",
	}
	pyBroker := []string{"CELERY_BROKER_URL=" + amqpxtest.URL()}
	if onRedis {
		prefix := taskstest.Prefix(t) // every broker key under it, deleted afterwards
		env["FUNDIGO_CELERY_BROKER_URL"] = taskstest.URL()
		env["FUNDIGO_CELERY_BROKER_KEY_PREFIX"] = prefix
		pyBroker = []string{"CELERY_BROKER_URL=" + taskstest.URL(), "CELERY_BROKER_KEYPREFIX=" + prefix}
	} else {
		t.Cleanup(func() { deleteCeleryQueues(t, queue) })
	}
	getenv, base := testEnv(t, env)
	startAll(t, getenv, base)

	py := func(scenario string, extra ...string) map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/usr/bin/python3", "celery_driver.py", scenario)
		cmd.Dir = "../../workers/celerycompat/testdata"
		cmd.Env = append(os.Environ(), pyBroker...)
		cmd.Env = append(cmd.Env, "CELERY_RESULT_BACKEND="+taskstest.URL(),
			"CELERY_QUEUE="+queue, "CELERY_GET_TIMEOUT=30", "PYTHONDONTWRITEBYTECODE=1",
			"CELERY_CONTROL_EXCHANGE="+celeryControlExchange(queue))
		cmd.Env = append(cmd.Env, extra...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), "%s", &stderr)
		var out map[string]any
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &out), "%s", &stdout)
		return out
	}

	callback := `{"Body": {"stkCallback": {"MerchantRequestID": "29115-1", "CheckoutRequestID": "ws_CO_e2e_celery",
		"ResultCode": 1032, "ResultDesc": "Request cancelled by user"}}}`
	out := py("native", "STK_CALLBACK="+callback)
	for _, task := range []string{"notification", "payment", "ratings"} {
		require.Equal(t, "SUCCESS", out[task].(map[string]any)["state"], "%s: %v", task, out[task])
	}
	id := out["notification"].(map[string]any)["result"].(map[string]any)["notification_id"].(string)
	req, err := http.NewRequest(http.MethodGet, base+"/v1/notifications/"+id, nil)
	require.NoError(t, err)
	req.Header.Set("X-API-Key", e2eKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode, "the Celery-made notification is the API's")

	// Celery's inspect ping (what `celery inspect ping` sends) sees the worker under its
	// configured node name, through its configured pidbox namespace.
	ping := py("inspect_ping")
	require.Equal(t, map[string]any{"fundigo-" + queue + "@e2e": map[string]any{"ok": "pong"}}, ping["replies"], "%v", ping)

	unknown := py("unknown")
	require.Equal(t, "NotRegistered", unknown["exc_class"])
	cli := func(args ...string) (string, string) {
		t.Helper()
		// The command's logger writes stderr from amqpx's goroutines too.
		var stdout, stderr lockedBuffer
		require.NoError(t, run(context.Background(), args, getenv, &stdout, &stderr), "%s", stderr.String())
		return stdout.String(), stderr.String()
	}
	listed, _ := cli("celery", "dlq", "list", "--json")
	require.Contains(t, listed, unknown["id"])
	require.Contains(t, listed, "unknown task billing.tasks.not_moved_yet")
	_, replayed := cli("celery", "dlq", "replay", "--id", unknown["id"].(string))
	require.Contains(t, replayed, "replayed 1 message(s)")
	// Still unknown to the worker, so it comes back to the dead-letter queue once.
	require.Eventually(t, func() bool {
		listed, _ := cli("celery", "dlq", "list", "--json")
		return strings.Count(listed, unknown["id"].(string)) == 1
	}, 15*time.Second, 100*time.Millisecond)
}

func deleteCeleryQueues(t *testing.T, queue string) {
	conn, err := amqp.Dial(amqpxtest.URL())
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer conn.Close() //nolint:errcheck // test cleanup
	for _, q := range []string{queue, queue + ".unknown"} {
		if ch, err := conn.Channel(); err == nil {
			_, _ = ch.QueueDelete(q, false, false, false)
			_ = ch.Close()
		}
	}
	ns := celeryControlExchange(queue)
	for _, x := range []string{queue, ns + ".pidbox", "reply." + ns + ".pidbox"} {
		if ch, err := conn.Channel(); err == nil {
			_ = ch.ExchangeDelete(x, false, false)
			_ = ch.Close()
		}
	}
}

// celeryControlExchange is the pidbox namespace (control_exchange) of the
// test consuming queue, so its remote control is its own.
func celeryControlExchange(queue string) string { return "test." + queue }
