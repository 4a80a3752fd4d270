package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/celery"
	"fundigo/pkg/tasks/taskstest"
)

// roleEnv is getenv with the role's own admin listener.
func roleEnv(t *testing.T, getenv func(string) string) func(string) string {
	addr := freeAddr(t)
	return func(k string) string {
		if k == "FUNDIGO_ADMIN_ADDR" {
			return addr
		}
		return getenv(k)
	}
}

// The acceptance: api, worker and scheduler run as separate
// processes; after a payment, a push and a scheduled run, every role's admin
// /metrics (asked for gzip) parses and carries the families of that role.
func TestEveryRoleExposesItsMetrics(t *testing.T) {
	t.Parallel()
	// The worker also consumes a Celery queue of its own, so a Celery
	// task's family shows up too.
	celeryQueue := "celery_metrics_" + strings.ReplaceAll(taskstest.Prefix(t), ":", "")
	t.Cleanup(func() { deleteCeleryQueues(t, celeryQueue) })
	getenv, base := testEnv(t, map[string]string{
		"FUNDIGO_SIMULATORS":               "true", // the worker's Daraja and Expo
		"FUNDIGO_MPESA_CALLBACK_TOKEN":     e2eCallbackToken,
		"FUNDIGO_MPESA_SIM_CALLBACK_DELAY": "200ms",
		"FUNDIGO_CELERY_ENABLED":           "true",
		"FUNDIGO_CELERY_QUEUES":            celeryQueue,
		"FUNDIGO_CELERY_DEAD_LETTER_QUEUE": celeryQueue + ".unknown",
		"FUNDIGO_CELERY_RESULT_URL":        taskstest.URL(),
		"FUNDIGO_CELERY_CONTROL_EXCHANGE":  celeryControlExchange(celeryQueue),
	})
	apiEnv, workerEnv, schedEnv := roleEnv(t, getenv), roleEnv(t, getenv), roleEnv(t, getenv)
	_, workerLogs := startRole(t, workerEnv, "worker")
	startRole(t, schedEnv, "scheduler")
	startRole(t, apiEnv, "api")
	// startRole waits for the admin listener; the public one may come up a
	// moment later.
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 50*time.Millisecond, "api listener up")
	e := startPaymentsE2EOn(t, getenv, base, nil, nil)

	code, body := e.call(t, http.MethodPost, "/v1/devices", map[string]any{
		"user_id": "cust-1", "token": "ExponentPushToken[metrics-e2e]", "platform": "expo", "locale": "en"}, nil)
	require.Equal(t, http.StatusCreated, code, "%v", body)
	id := e.createPayment(t, "0708374149", 100)
	e.waitStatus(t, id, "paid")
	code, body = e.call(t, http.MethodPost, "/v1/admin/schedules/payments:reconcile/run", nil,
		map[string]string{"Idempotency-Key": "metrics-e2e-run"})
	require.Less(t, code, 300, "%v", body)

	// One Celery task, as Django's .delay() publishes it: the ratings
	// recompute, handled in Go.
	publishCelery(t, celeryQueue, "ratings.tasks.update_technician_ratings")

	type want struct {
		family string
		labels map[string]string
	}
	roles := []struct {
		name string
		addr string
		want []want
	}{
		{"api", apiEnv("FUNDIGO_ADMIN_ADDR"), []want{
			{"fundigo_http_requests_total", map[string]string{"route": "/v1/payments", "code": "202"}},
			{"fundigo_http_request_duration_seconds", map[string]string{"route": "/v1/payments"}},
			{"fundigo_dependency_up", map[string]string{"dependency": "postgres", "required": "true"}},
		}},
		{"worker", workerEnv("FUNDIGO_ADMIN_ADDR"), []want{
			{"fundigo_tasks_total", map[string]string{"type": "mpesa:stk_push", "outcome": "success"}},
			{"fundigo_task_duration_seconds", nil},
			{"fundigo_asynq_queue_tasks", map[string]string{"state": "archived"}},
			{"fundigo_asynq_queue_latency_seconds", nil},
			{"fundigo_amqp_deliveries_total", map[string]string{"outcome": "acked"}},
			{"fundigo_amqp_queue_messages", map[string]string{"kind": "dlq"}},
			{"fundigo_amqp_queue_consumers", nil},
			{"fundigo_outbox_backlog", nil},
			{"fundigo_outbox_oldest_age_seconds", nil},
			{"fundigo_inbox_rows", map[string]string{"route": "mpesa.stk"}},
			{"fundigo_inbox_stuck_rows", nil},
			{"fundigo_inbox_quarantine_rows", nil},
			{"fundigo_payments", map[string]string{"status": "paid"}},
			{"fundigo_payment_callback_to_paid_seconds", map[string]string{"quantile": "0.95"}},
			{"fundigo_push_deliveries", map[string]string{"platform": "expo"}},
			{"fundigo_push_provider_requests_total", map[string]string{"provider": "expo", "code": "200"}},
			{"fundigo_push_limiter_wait_seconds", nil},
			{"fundigo_dependency_up", map[string]string{"dependency": "rabbitmq", "required": "true"}},
			{"fundigo_celery_tasks_total", map[string]string{"name": "ratings.recompute_all", "state": "success"}},
		}},
		{"scheduler", schedEnv("FUNDIGO_ADMIN_ADDR"), []want{
			{"fundigo_scheduler_is_leader", nil},
			{"fundigo_scheduler_leader_present", nil},
			{"fundigo_scheduler_last_tick_timestamp_seconds", map[string]string{"schedule": "payments:reconcile"}},
			{"fundigo_scheduler_lag_seconds", map[string]string{"schedule": "payments:reconcile"}},
			{"fundigo_scheduler_last_run_success", map[string]string{"schedule": "payments:reconcile"}},
			{"fundigo_dependency_up", map[string]string{"dependency": "redis", "required": "true"}},
		}},
	}
	for _, r := range roles {
		var missing []string
		require.Eventually(t, func() bool {
			mfs := scrape(t, r.addr)
			missing = missing[:0]
			for _, w := range r.want {
				if _, ok := seriesValue(mfs[w.family], w.labels); !ok {
					missing = append(missing, w.family)
				}
			}
			return len(missing) == 0
		}, 45*time.Second, 250*time.Millisecond, "%s admin /metrics lacks %v", r.name, &missing)
	}
	// Logs an operator can use: every line has a millisecond UTC time,
	// service/role/version and at most one component; task successes are info.
	taskDone := false
	for _, line := range strings.Split(strings.TrimSpace(workerLogs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, m["time"], line)
		require.Equal(t, "fundigo", m["service"], line)
		require.Equal(t, "worker", m["role"], line)
		require.NotEmpty(t, m["version"], line)
		require.LessOrEqual(t, strings.Count(line, `"component":`), 1, line)
		if m["message"] == "task done" && m["level"] == "info" {
			taskDone = true
		}
	}
	require.True(t, taskDone, "task successes are logged at info")

	var leaders float64
	mfs := scrape(t, schedEnv("FUNDIGO_ADMIN_ADDR"))
	leaders, _ = seriesValue(mfs["fundigo_scheduler_leader_present"], nil)
	require.Equal(t, 1.0, leaders)
}

// publishCelery publishes one task message to queue on the default exchange,
// as a Python Celery client's .delay() does over RabbitMQ.
func publishCelery(t *testing.T, queue, task string) {
	t.Helper()
	m, err := celery.NewMessage(task, nil, nil)
	require.NoError(t, err)
	pub, err := m.Publishing()
	require.NoError(t, err)
	conn, err := amqp.Dial(amqpxtest.URL())
	require.NoError(t, err)
	defer conn.Close() //nolint:errcheck // test helper
	ch, err := conn.Channel()
	require.NoError(t, err)
	// The worker declares the queue when it starts consuming; wait for it.
	require.Eventually(t, func() bool {
		probe, err := conn.Channel()
		if err != nil {
			return false
		}
		defer probe.Close() //nolint:errcheck // test helper
		_, err = probe.QueueDeclarePassive(queue, true, false, false, false, nil)
		return err == nil
	}, 60*time.Second, 100*time.Millisecond, "celery queue %s declared", queue)
	require.NoError(t, ch.PublishWithContext(context.Background(), "", queue, false, false, pub))
}
