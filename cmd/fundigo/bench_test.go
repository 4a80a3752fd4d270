package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/bench"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks/taskstest"
)

// benchEnv points the bench at the test services.
func benchEnv(k string) string {
	return map[string]string{
		"FUNDIGO_DATABASE_URL": storetest.URL(),
		"FUNDIGO_REDIS_URL":    taskstest.URL(),
		"FUNDIGO_AMQP_URL":     amqpxtest.URL(),
		"FUNDIGO_LOG_LEVEL":    "warn",
	}[k]
}

// runBenchJSON runs `fundigo bench` with args and decodes its JSON report.
func runBenchJSON(t *testing.T, args ...string) (bench.Report, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"bench", "--json", "--warmup", "0", "--duration", "0", "--log-level", "error"}, args...),
		benchEnv, &out, &errOut)
	var rep bench.Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), "stdout: %s\nstderr: %s", out.String(), errOut.String())
	return rep, err
}

func result(t *testing.T, rep bench.Report, name string) bench.Result {
	t.Helper()
	r, ok := rep.Get(name)
	require.True(t, ok, "no result %s in %+v", name, rep.Results)
	return r
}

func TestBenchRefusesTargetsOutsideLoopback(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"bench", "webhooks", "--target", "http://10.1.2.3:8080", "--api-key", "k", "--count", "1"},
		benchEnv, &out, &out)
	require.ErrorIs(t, err, bench.ErrNotLoopback)
	err = run(context.Background(), []string{"bench", "tasks", "--count", "1"}, func(k string) string {
		if k == "FUNDIGO_AMQP_URL" {
			return "amqp://guest:guest@192.0.2.10:5672/"
		}
		return benchEnv(k)
	}, &out, &out)
	require.ErrorIs(t, err, bench.ErrNotLoopback, "service URLs must be local too")
	require.Error(t, run(context.Background(), []string{"bench", "nonsense"}, benchEnv, &out, &out))
}

func TestBenchTasks(t *testing.T) {
	t.Parallel()
	rep, err := runBenchJSON(t, "tasks", "--count", "40", "--concurrency", "4", "--worker-concurrency", "4", "--consumers", "2")
	require.NoError(t, err)
	for _, name := range []string{"tasks.asynq_noop", "tasks.amqp_publish", "tasks.amqp_consume", "tasks.amqp_roundtrip"} {
		r := result(t, rep, name)
		require.Zero(t, r.Errors, "%s: %s", name, r.FirstError)
		require.Positive(t, r.Ratio, "%s compared with its same-run baseline", name)
		require.NotEmpty(t, r.Verdict)
	}
	require.EqualValues(t, 40, result(t, rep, "tasks.asynq_noop").Ops)
	require.EqualValues(t, 40, result(t, rep, "baseline.asynq_noop").Ops)
}

// TestBenchInProcessScenarios drives each scenario that starts a whole
// system in-process, briefly, and checks that its scratch schema is gone
// afterwards.
func TestBenchInProcessScenarios(t *testing.T) {
	t.Parallel()
	before := storetest.Schemas(t, `bench\_%`)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"webhooks", "--count", "30", "--concurrency", "4"}, []string{"webhooks.stk_ack"}},
		{[]string{"payments", "--count", "6", "--concurrency", "3"}, []string{"payments.e2e_paid"}},
		{
			[]string{"notifications", "--count", "5", "--concurrency", "2", "--users", "30", "--fanout", "10", "--push-messages", "300"},
			[]string{"notifications.push_delivered", "notifications.push_path"},
		},
		{[]string{"ratings", "--count", "1", "--reviews", "2000", "--technicians", "50"}, []string{"ratings.full_recompute"}},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			t.Parallel()
			rep, err := runBenchJSON(t, append(tc.args, "--baselines=false")...)
			require.NoError(t, err)
			for _, want := range tc.want {
				r := result(t, rep, want)
				require.Zero(t, r.Errors, r.FirstError)
				require.Positive(t, r.Ops)
			}
		})
	}
	t.Cleanup(func() { storetest.RequireNoNewSchemas(t, `bench\_%`, before) })
}

// TestBenchCallbacks runs the callbacks scenario end to end with a small N:
// every fixture payment is paid by its callback, and the report has a
// non-zero paid/s next to the acknowledgements.
func TestBenchCallbacks(t *testing.T) {
	t.Parallel()
	before := storetest.Schemas(t, `bench\_%`)
	rep, err := runBenchJSON(t, "callbacks", "--count", "50", "--concurrency", "8", "--paid-timeout", "1m")
	require.NoError(t, err)
	ack := result(t, rep, "callbacks.ack")
	require.Zero(t, ack.Errors, ack.FirstError)
	require.EqualValues(t, 50, ack.Ops, "one callback per fixture payment")
	paid := result(t, rep, "callbacks.paid")
	require.Zero(t, paid.Errors, paid.FirstError)
	require.EqualValues(t, 50, paid.Ops, "every fixture payment paid")
	require.Positive(t, paid.Throughput)
	require.Positive(t, paid.Ratio, "compared with the same-run single-row commit")
	require.EqualValues(t, 50, result(t, rep, "baseline.pg_commit").Ops)
	t.Cleanup(func() { storetest.RequireNoNewSchemas(t, `bench\_%`, before) })
}

// TestBenchCallbacksAgainstTarget runs the callbacks scenario with --target
// against a real `fundigo all`: the fixture goes into that system's
// database (FUNDIGO_DATABASE_URL), the callbacks to its webhook.
func TestBenchCallbacksAgainstTarget(t *testing.T) {
	t.Parallel()
	getenv, base := testEnv(t, map[string]string{
		"FUNDIGO_MPESA_CALLBACK_TOKEN": e2eCallbackToken,
		"FUNDIGO_MPESA_ALLOWED_CIDRS":  "127.0.0.1/32",
		"FUNDIGO_LOG_LEVEL":            "warn",
	})
	stop, logs := startAll(t, getenv, base)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "callbacks", "--json", "--count", "40", "--concurrency", "4",
		"--baselines=false", "--paid-timeout", "1m",
		"--target", base, "--api-key", e2eKey, "--callback-token", e2eCallbackToken}, getenv, &out, &errOut)
	require.NoError(t, err, "stderr: %s\nsystem logs: %s", errOut.String(), tail(logs.String(), 4000))
	var rep bench.Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
	require.EqualValues(t, 40, result(t, rep, "callbacks.ack").Ops)
	paid := result(t, rep, "callbacks.paid")
	require.Zero(t, paid.Errors, paid.FirstError)
	require.EqualValues(t, 40, paid.Ops)
	require.Positive(t, paid.Throughput)
	require.NoError(t, stop())
}
