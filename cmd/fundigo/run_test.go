package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/config"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks/taskstest"
)

// lockedBuffer collects a process's output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testEnv is a getenv for run() that points every role at per-test
// namespaces on the real services and at a free loopback port.
func testEnv(t *testing.T, overrides map[string]string) (func(string) string, string) {
	t.Helper()
	_, dbURL := storetest.NewPoolURL(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	vars := map[string]string{
		"FUNDIGO_HTTP_ADDR":          addr,
		"FUNDIGO_ADMIN_ADDR":         freeAddr(t),
		"FUNDIGO_DATABASE_URL":       dbURL,
		"FUNDIGO_REDIS_URL":          taskstest.URL(),
		"FUNDIGO_REDIS_KEY_PREFIX":   taskstest.Prefix(t),
		"FUNDIGO_AMQP_URL":           amqpxtest.URL(),
		"FUNDIGO_AMQP_EXCHANGE":      "t" + id + ".events",
		"FUNDIGO_AMQP_QUEUE_PREFIX":  "t" + id + ".",
		"FUNDIGO_TASKS_QUEUE_PREFIX": taskstest.QueuePrefix(t),
		"FUNDIGO_API_KEYS":           "e2e:e2e-service-key-0123456789",
		"FUNDIGO_SHUTDOWN_TIMEOUT":   "5s",
		"FUNDIGO_LOG_LEVEL":          "debug",
		// Small pools: packages and parallel tests share PostgreSQL's 100
		// connections, and a process at the defaults (20 + 6 push loops)
		// per test left the api tests "too many clients" in CI.
		"FUNDIGO_DATABASE_MAX_CONNS": "6",
		"FUNDIGO_PUSH_SEND_LOOPS":    "1",
		"FUNDIGO_PUSH_FANOUT_LOOPS":  "1",
	}
	for k, v := range overrides {
		vars[k] = v
	}
	getenv := func(k string) string { return vars[k] }
	t.Cleanup(func() { deleteDeclaredAMQP(t, getenv) })
	return getenv, "http://" + addr
}

// freeAddr is a loopback address no one listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// deleteDeclaredAMQP removes the queues (with their dead-letter queues and
// exchanges) and the events exchange that a run() under getenv declares, so
// tests leave no quorum queues behind on the shared broker. The queue names
// come from the worker registry itself, not from a list kept here.
func deleteDeclaredAMQP(t *testing.T, getenv func(string) string) {
	cfg, err := config.Load(getenv)
	if err != nil {
		t.Errorf("cleanup: config: %v", err)
		return
	}
	// Celery queues are kombu-declared and removed by the Celery tests; its
	// registration also opens a result-backend client that only Run closes.
	cfg.Celery.Enabled = false
	// The worker registry needs the simulators' development credentials
	// when no Daraja/Expo is configured, exactly as `all` provides them.
	sims, err := startSimulators(context.Background(), &cfg, zerolog.Nop())
	if err != nil {
		t.Errorf("cleanup: simulators: %v", err)
		return
	}
	defer sims.close()
	in, err := openInfra(context.Background(), cfg, zerolog.Nop(), "test-cleanup")
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer in.close(ctx)
	w, err := buildWorkers(in)
	if err != nil {
		t.Errorf("cleanup: build workers: %v", err)
		return
	}
	ch, err := in.amqp.Channel(ctx)
	if err != nil {
		t.Errorf("cleanup: channel: %v", err)
		return
	}
	defer ch.Close()
	for _, q := range w.ConsumerQueues() {
		for _, name := range amqpx.QueueNames(q) {
			if _, err := ch.QueueDelete(name, false, false, false); err != nil {
				t.Errorf("cleanup: delete queue %s: %v", name, err)
				return
			}
		}
		if err := ch.ExchangeDelete(amqpx.DLXName(q), false, false); err != nil {
			t.Errorf("cleanup: delete exchange %s: %v", amqpx.DLXName(q), err)
			return
		}
	}
	if err := ch.ExchangeDelete(cfg.AMQP.Exchange, false, false); err != nil {
		t.Errorf("cleanup: delete exchange %s: %v", cfg.AMQP.Exchange, err)
	}
}

// startAll runs `fundigo all` in the background and waits for /readyz.
func startAll(t *testing.T, getenv func(string) string, base string) (stop func() error, logs *lockedBuffer) {
	t.Helper()
	return startAllWith(t, context.Background(), getenv, base)
}

// startAllWith is startAll under parent (e.g. carrying a test span exporter).
func startAllWith(t *testing.T, parent context.Context, getenv func(string) string, base string) (stop func() error, logs *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(parent)
	logs = &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"all"}, getenv, logs, logs) }()
	last := "no answer"
	ready := func() bool {
		select {
		case err := <-done:
			done <- err
			return true
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			last = err.Error()
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		last = string(b)
		return resp.StatusCode == http.StatusOK
	}
	for deadline := time.Now().Add(60 * time.Second); !ready(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("fundigo all not ready after 60s; last /readyz: %s\nlogs:\n%s", last, tail(logs.String(), 4000))
		}
	}
	select {
	case err := <-done:
		t.Fatalf("fundigo all exited early: %v\n%s", err, logs.String())
	default:
	}
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				stopErr = context.DeadlineExceeded
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = stop() })
	return stop, logs
}

func TestAllStartsReadyAndShutsDownCleanly(t *testing.T) {
	t.Parallel()
	getenv, base := testEnv(t, nil)
	stop, logs := startAll(t, getenv, base)

	resp, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ready))
	resp.Body.Close()
	require.Equal(t, "ok", ready.Status)
	require.Equal(t, map[string]string{"postgres": "ok", "redis": "ok", "rabbitmq": "ok"}, ready.Checks)

	req, _ := http.NewRequest(http.MethodGet, base+"/v1/tasks/nope", nil)
	req.Header.Set("X-API-Key", "not-the-key")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))

	require.NoError(t, stop(), "graceful shutdown within the timeout")
	out := logs.String()
	require.Contains(t, out, "api stopped")
	require.Contains(t, out, "workers stopped")
	require.NotContains(t, out, "not-the-key")
	require.NotContains(t, out, "e2e-service-key-0123456789")
}

func TestConfigErrorsAreReportedTogether(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"api"}, func(k string) string {
		switch k {
		case "FUNDIGO_HTTP_ADDR":
			return "nope"
		case "FUNDIGO_LOG_FORMAT":
			return "xml"
		}
		return ""
	}, &out, &out)
	require.Error(t, err)
	require.Contains(t, err.Error(), "FUNDIGO_HTTP_ADDR")
	require.Contains(t, err.Error(), "FUNDIGO_LOG_FORMAT")
}

func TestHelpListsSubcommands(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"help"}, func(string) string { return "" }, &out, &out))
	for _, sub := range []string{"api", "worker", "scheduler", "all", "migrate", "version"} {
		require.True(t, strings.Contains(out.String(), "\n  "+sub+" "), "help lists %s:\n%s", sub, out.String())
	}
	out.Reset()
	require.NoError(t, run(context.Background(), []string{"version"}, func(string) string { return "" }, &out, &out))
	require.Contains(t, out.String(), "fundigo ")
}

func TestConfigCommandRedactsSecrets(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"config"}, func(k string) string {
		switch k {
		case "FUNDIGO_API_KEYS":
			return "django:very-secret-key-0123456789"
		case "FUNDIGO_AMQP_URL":
			return "amqp://user:amqp-password@127.0.0.1:5672/"
		}
		return ""
	}, &out, &out))
	require.NotContains(t, out.String(), "very-secret-key")
	require.NotContains(t, out.String(), "amqp-password")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Equal(t, []string{"VARIABLE", "SOURCE", "DEFAULT", "VALUE"}, strings.Fields(lines[0]), "one table")
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		require.Len(t, f, 4, "every row has its four columns: %q", l)
		rows[f[0]] = f
	}
	require.Equal(t, []string{"FUNDIGO_AMQP_URL", "env", "amqp://guest:xxxxx@127.0.0.1:5672/", "amqp://user:xxxxx@127.0.0.1:5672/"},
		rows["FUNDIGO_AMQP_URL"], "effective value, password hidden")
	require.Equal(t, []string{"FUNDIGO_HTTP_ADDR", "default", "127.0.0.1:8080", "127.0.0.1:8080"}, rows["FUNDIGO_HTTP_ADDR"])
	require.Equal(t, "derived", rows["FUNDIGO_PUBLIC_URL"][1])
	require.Equal(t, "django:[redacted]", rows["FUNDIGO_API_KEYS"][3])
	require.NotContains(t, out.String(), "{HTTP:", "no Go struct dump")
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"config"}, func(k string) string {
		if k == "FUNDIGO_WORKER_CONCURRENCY" {
			return "abc"
		}
		return ""
	}, &out, &out)
	require.Error(t, err)
	require.Contains(t, err.Error(), `FUNDIGO_WORKER_CONCURRENCY="abc": want a whole number`)
	require.NotContains(t, err.Error(), "Concurrency\"")
	require.NotContains(t, err.Error(), "must be at least 1", "no knock-on error")
}

func TestBenchUnknownScenarioListsTheScenarios(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"bench", "callback"}, func(string) string { return "" }, &out, &out)
	require.Error(t, err)
	require.Contains(t, err.Error(), `unknown scenario "callback"`)
	for _, s := range []string{"callbacks", "webhooks", "payments", "tasks", "notifications"} {
		require.Contains(t, err.Error(), s)
	}
}

func TestMigrateStatus(t *testing.T) {
	t.Parallel()
	getenv, _ := testEnv(t, nil)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"migrate", "status"}, getenv, &out, &out))
	require.Contains(t, out.String(), "00001")
	require.Contains(t, out.String(), "applied")
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// pgx's and go-redis's pools close their background goroutines
		// asynchronously after Close returns.
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).reaper"),
	)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
