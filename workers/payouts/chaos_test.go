//go:build chaos

package payouts_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
	"fundigo/pkg/mpesa"
	"fundigo/pkg/mpesa/mpesasim"
	"fundigo/pkg/payout"
	"fundigo/pkg/store"
	"fundigo/pkg/store/storetest"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
	"fundigo/workers/payouts"
)

// Environment of the chaos child (this test binary re-executed as a worker).
const (
	envChild     = "FUNDIGO_PAYOUTS_CHAOS_CHILD"
	envChildDB   = "FUNDIGO_PAYOUTS_CHAOS_DB"
	envChildSim  = "FUNDIGO_PAYOUTS_CHAOS_SIM"
	envChildSink = "FUNDIGO_PAYOUTS_CHAOS_SINK"
	envChildQ    = "FUNDIGO_PAYOUTS_CHAOS_QUEUES"
	envChildKey  = "FUNDIGO_PAYOUTS_CHAOS_TOKEN_KEY"
	envChildCred = "FUNDIGO_PAYOUTS_CHAOS_CREDENTIAL"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(runChaosChild())
	}
	os.Exit(m.Run())
}

func chaosDeps(pool *pgxpool.Pool, simURL, sinkURL, tokenKey, cred string, rdb redis.UniversalClient) (payout.Deps, error) {
	sc := mpesasim.New(mpesasim.Config{}).Config() // the defaults the parent's simulator uses
	client, err := mpesa.NewClient(rdb, mpesa.ClientConfig{BaseURL: simURL, ConsumerKey: sc.ConsumerKey,
		ConsumerSecret: sc.ConsumerSecret, ShortCode: sc.ShortCode, Passkey: sc.Passkey, CallbackURL: sinkURL + "/stk",
		TokenKey: tokenKey, Timeout: 5 * time.Second})
	if err != nil {
		return payout.Deps{}, err
	}
	return payout.Deps{
		Log: zerolog.Nop(), Pool: pool, Daraja: client,
		Initiator: mpesa.Initiator{Name: sc.InitiatorName, SecurityCredential: cred},
		URLs: payout.URLs{B2CResult: sinkURL + "/b2c/result", B2CTimeout: sinkURL + "/b2c/timeout",
			StatusResult: sinkURL + "/status/result", StatusTimeout: sinkURL + "/status/timeout"},
		Config: config.Payouts{MaxAmount: 250000, StatusAfter: time.Second, StatusEvery: time.Second,
			StatusMaxEvery: 2 * time.Second, FinalDeadline: 2 * time.Minute},
	}, nil
}

// runChaosChild is a payouts worker process (submit tasks) until killed.
func runChaosChild() int {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	pool, err := store.Open(ctx, os.Getenv(envChildDB), store.PoolConfig{MaxConns: 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer pool.Close()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	if u, err := redis.ParseURL(taskstest.URL()); err == nil {
		rdb = redis.NewClient(u)
	}
	d, err := chaosDeps(pool, os.Getenv(envChildSim), os.Getenv(envChildSink), os.Getenv(envChildKey), os.Getenv(envChildCred), rdb)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	q := tasks.NewQueues(os.Getenv(envChildQ))
	mux := asynq.NewServeMux()
	if err := payouts.Register(mux, payouts.Deps{Deps: d}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	srv := asynq.NewServer(taskstest.RedisOpt(), asynq.Config{Concurrency: 16, Queues: q.Priorities(),
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return 100 * time.Millisecond }})
	if err := srv.Start(tasks.Classify()(mux)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	<-ctx.Done()
	srv.Shutdown()
	return 0
}

// TestChaosKillWorkerWithPayoutsInFlight is #15's chaos done-when: 1,000
// payouts are submitted by a worker process that is killed with SIGKILL
// mid-flight and replaced; no payout reaches the simulator twice (it counts
// requests per OriginatorConversationID) and every payout ends final.
// Not run by default (build tag chaos).
func TestChaosKillWorkerWithPayoutsInFlight(t *testing.T) {
	pool, dbURL := storetest.NewPoolURL(t)
	ctx := context.Background()
	sim := mpesasim.New(mpesasim.Config{CallbackDelay: 200 * time.Millisecond})
	t.Cleanup(sim.Close)
	daraja := httptest.NewServer(sim)
	t.Cleanup(daraja.Close)
	cred, err := mpesa.SecurityCredential(sim.CertificatePEM(), sim.Config().InitiatorPassword)
	require.NoError(t, err)

	// The receiver: stores each answer in the inbox and applies it, as the
	// webhook and the answers consumer do.
	var d payout.Deps
	routes := map[string]string{"/b2c/result": mpesa.InboxRouteB2CResult, "/b2c/timeout": mpesa.InboxRouteB2CTimeout,
		"/status/result": mpesa.InboxRouteStatusResult, "/status/timeout": mpesa.InboxRouteStatusTimeout}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, mpesa.MaxCallbackBytes))
		route, ok := routes[r.URL.Path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		h := sha256.Sum256(body)
		var id int64
		if err := pool.QueryRow(r.Context(), `INSERT INTO inbox (route, natural_key, body_hash, body) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING RETURNING id`, route, uuid.NewString(), h[:], body).Scan(&id); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if err := payout.ApplyInboxRow(r.Context(), d, id); err != nil {
			t.Logf("apply %d: %v", id, err)
		}
		_, _ = w.Write([]byte(`{"ResultCode":0,"ResultDesc":"Accepted"}`))
	}))
	t.Cleanup(sink.Close)
	rdb := taskstest.Redis(t)
	tokenKey := taskstest.Prefix(t) + "mpesa:oauth"
	d, err = chaosDeps(pool, daraja.URL, sink.URL, tokenKey, cred, rdb)
	require.NoError(t, err)

	prefix := taskstest.QueuePrefix(t)
	q := tasks.NewQueues(prefix)
	startChild := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"=1", envChildDB+"="+dbURL, envChildSim+"="+daraja.URL,
			envChildSink+"="+sink.URL, envChildQ+"="+prefix, envChildKey+"="+tokenKey, envChildCred+"="+cred)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}

	const n = 1000
	phones := []string{mpesasim.PhoneSuccess, mpesasim.PhoneB2CInsufficientBalance, mpesasim.PhoneB2CTimeoutCompleted}
	ac := taskstest.Client(t)
	d.Tasks, d.Queues = ac, q
	for i := range n {
		amount := int64(100 + i)
		_, err := payout.Create(ctx, d, uuid.NewString(), payout.CreateRequest{TechnicianID: "t", JobID: fmt.Sprint("job-", i),
			Phone: phones[i%len(phones)], Amount: &amount})
		require.NoError(t, err)
	}
	first := startChild()
	// Kill it with SIGKILL once a good part of the payouts are out.
	require.Eventually(t, func() bool { return sim.Stats().B2CRequests >= n/3 }, 2*time.Minute, 20*time.Millisecond)
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_, _ = first.Process.Wait()
	startChild()

	// Reconciliation settles what the dead worker left (claimed without an
	// answer: unknown, then Transaction Status) and submits lost ones.
	require.Eventually(t, func() bool {
		require.NoError(t, payout.Reconcile(ctx, d))
		var open int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM payouts WHERE status NOT IN ('succeeded', 'failed', 'needs_review')`).Scan(&open))
		return open == 0
	}, 5*time.Minute, time.Second, "every payout reaches a final state")

	st := sim.Stats()
	for orig, c := range st.B2CByOriginator {
		require.LessOrEqual(t, c, 1, "payout %s sent %d times", orig, c)
	}
	var receipts, succeeded int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM payment_ledger WHERE payout_id IS NOT NULL`).Scan(&receipts))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM payouts WHERE status = 'succeeded'`).Scan(&succeeded))
	require.Equal(t, succeeded, receipts, "one ledger row per succeeded payout")
	t.Logf("sent %d of %d; succeeded %d", len(st.B2CByOriginator), n, succeeded)
}
