package payments_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/config"
	"fundigo/pkg/events"
	"fundigo/pkg/inbox"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/mpesa/mpesasim"
	"fundigo/pkg/outbox"
	"fundigo/pkg/payment"
	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/workers"
	"fundigo/workers/payments"
)

// Environment of the crash child (this test binary re-executed).
const (
	envChild       = "FUNDIGO_PAYMENTS_CRASH_CHILD"
	envChildDB     = "FUNDIGO_PAYMENTS_CRASH_DB"
	envChildPrefix = "FUNDIGO_PAYMENTS_CRASH_PREFIX"
	envChildEx     = "FUNDIGO_PAYMENTS_CRASH_EXCHANGE"
	envChildBatch  = "FUNDIGO_PAYMENTS_CRASH_BATCH"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(runCrashChild())
	}
	os.Exit(m.Run())
}

// runCrashChild is a payments worker process: outbox relay + callback
// consumer, until SIGTERM or SIGKILL.
func runCrashChild() int {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	log := zerolog.New(os.Stderr).Level(zerolog.WarnLevel)
	pool, err := store.Open(ctx, os.Getenv(envChildDB), store.PoolConfig{MaxConns: 12})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer pool.Close()
	conn, err := amqpx.NewConn(log, amqpx.ConnConfig{URL: amqpxtest.URL(), Name: "payments-crash-child"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	pub, err := amqpx.NewPublisher(conn, amqpx.PublisherConfig{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	relay, err := outbox.NewRelay(pool, pub, log, outbox.RelayConfig{Exchange: os.Getenv(envChildEx), PollInterval: 100 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	deps := crashDeps(log, os.Getenv(envChildPrefix))
	deps.Pool = pool
	w := workers.New(log, taskstest.RedisOpt(), conn, workers.Config{Exchange: os.Getenv(envChildEx), Queues: tasks.NewQueues(os.Getenv(envChildPrefix))})
	if err := payments.Register(w.Mux(), deps); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	specs, err := payments.Consumers(deps)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	w.AddConsumer(specs...)
	w.AddRunner(relay.Run)
	// The batched applier claims the same rows straight from the inbox: the
	// two paths race, and each row must still be applied once.
	batch, _ := strconv.Atoi(os.Getenv(envChildBatch))
	if batch == 0 {
		batch = 50
	}
	applier, err := payment.NewApplier(deps.Deps, payment.ApplierConfig{BatchSize: batch, Workers: 2, PollInterval: 50 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	w.AddRunner(applier.Run)
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// crashDeps: the STK client is never called here (no pushes), so it points
// at nothing; the consumer applies callbacks with 8 handlers.
func crashDeps(log zerolog.Logger, prefix string) payments.Deps {
	client, err := mpesa.NewClient(nil, mpesa.ClientConfig{BaseURL: "http://127.0.0.1:1", ConsumerKey: "k",
		ConsumerSecret: "s", ShortCode: "174379", Passkey: "p", CallbackURL: "http://127.0.0.1:1/cb"})
	if err != nil {
		panic(err)
	}
	return payments.Deps{Deps: payment.Deps{Log: log, STK: client, Config: config.Payments{FinalDeadline: time.Hour, QueryAfter: time.Minute}}, QueuePrefix: prefix, Concurrency: 8}
}

func startChild(t *testing.T, dbURL, exchange, prefix string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1", envChildDB+"="+dbURL, envChildPrefix+"="+prefix, envChildEx+"="+exchange)
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("child stderr:\n%s", stderr.String())
		}
	})
	return cmd
}

// TestSIGKILLMidStreamLosesNothingAppliesNothingTwice kills a worker process
// with SIGKILL while it applies a stream of callbacks, starts another, and
// checks every callback was applied exactly once.
func TestSIGKILLMidStreamLosesNothingAppliesNothingTwice(t *testing.T) {
	t.Parallel()
	ns := amqpxtest.Names(t)
	exchange, prefix := ns.Exchange("events"), ns.Prefix()+"."
	ns.Queue("payments.stk_callbacks") // schedules the consumer's queues for deletion
	ns.Queue("payments.c2b_confirmations")
	pool, dbURL := storetest.NewPoolURL(t)
	ctx := context.Background()
	const n = 400

	// The consumer's queue must exist before notices are published.
	conn := amqpxtest.Conn(t, zerolog.Nop())
	d := crashDeps(zerolog.Nop(), prefix)
	d.Pool = pool
	specs, err := payments.Consumers(d)
	require.NoError(t, err)
	spec := specs[0]
	spec.Exchange = exchange
	require.NoError(t, conn.Declare(ctx, spec.Topology()))

	ids := make([]string, n)
	ps := payment.NewStore(pool)
	for i := range n {
		ids[i] = uuid.NewString()
		_, err := ps.Create(ctx, payment.New{ID: ids[i], JobID: fmt.Sprint("job-", i), CustomerID: "c",
			Phone: mpesasim.PhoneSuccess, Amount: 100, CreatedAt: time.Now()})
		require.NoError(t, err)
		_, err = ps.BeginPush(ctx, ids[i], time.Now())
		require.NoError(t, err)
		_, err = ps.MarkAwaiting(ctx, ids[i], "m", fmt.Sprintf("ws_CO_crash_%04d", i), false, time.Now())
		require.NoError(t, err)
	}
	// Two deliveries per payment with different bytes (both stored), plus an
	// identical redelivery (deduplicated by the inbox).
	w, err := inbox.NewWriter(pool, inbox.WriterConfig{})
	require.NoError(t, err)
	for i := range n {
		body := mpesasim.CallbackBody("m", fmt.Sprintf("ws_CO_crash_%04d", i), "0", "ok", 100,
			fmt.Sprintf("CRASH%05d", i), mpesasim.PhoneSuccess, time.Now())
		for _, b := range [][]byte{body, body, append(append([]byte{}, body...), ' ')} {
			_, err := w.Write(ctx, inbox.Entry{Route: "mpesa.stk", Key: fmt.Sprintf("ws_CO_crash_%04d", i),
				Body: b, RoutingKey: events.RoutingKeySTKCallbackReceived, Notify: payment.NotifyChannel, Trusted: true})
			require.NoError(t, err)
		}
	}
	applied := func() int {
		var c int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM payment_callbacks`).Scan(&c))
		return c
	}

	first := startChild(t, dbURL, exchange, prefix)
	require.Eventually(t, func() bool { return applied() >= n/4 }, 60*time.Second, 5*time.Millisecond)
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	atKill := applied()
	require.Less(t, atKill, 2*n, "the worker was killed mid-stream")
	t.Logf("killed with %d of %d callbacks applied", atKill, 2*n)

	startChild(t, dbURL, exchange, prefix)
	require.Eventually(t, func() bool { return applied() == 2*n }, 90*time.Second, 20*time.Millisecond)

	var paid, ledger, paidOutcomes, dupOutcomes, events, review int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'paid'), count(*) FILTER (WHERE status = 'needs_review') FROM payments`).Scan(&paid, &review))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM payment_ledger`).Scan(&ledger))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE outcome = 'paid'), count(*) FILTER (WHERE outcome = 'duplicate') FROM payment_callbacks`).Scan(&paidOutcomes, &dupOutcomes))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE routing_key = 'payment.paid'`).Scan(&events))
	require.Equal(t, n, paid, "every payment paid")
	require.Zero(t, review)
	require.Equal(t, n, ledger, "one ledger row per receipt")
	require.Equal(t, n, paidOutcomes, "each payment paid once")
	require.Equal(t, n, dupOutcomes, "the second delivery changed nothing")
	require.Equal(t, n, events, "one payment.paid event per payment")
	var inboxRows int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM inbox`).Scan(&inboxRows))
	require.Equal(t, 2*n, inboxRows)
}
