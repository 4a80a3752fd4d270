//go:build chaos

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/mpesa"
)

// pgCluster runs pg_ctlcluster with action on the local cluster.
func pgCluster(ctx context.Context, action string) ([]byte, error) {
	script := "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main " + action
	return exec.CommandContext(ctx, "bash", "-c", script).CombinedOutput()
}

// chaosAttempt is one STK callback post and how it was answered.
type chaosAttempt struct {
	id         string
	code       int // 0 = transport error
	sent, done time.Time
}

// TestChaosPostgresRestartDuringWebhooks posts STK callbacks continuously
// while PostgreSQL restarts. A callback is answered 200 only after its raw
// body is committed to the inbox (ARCHITECTURE.md guarantees 1 and 5), so
// every id answered 200 must have exactly one inbox row after recovery.
// It restarts PostgreSQL for everyone: run it alone,
//
//	go test -race -tags chaos -p 1 -run Chaos ./cmd/fundigo/
func TestChaosPostgresRestartDuringWebhooks(t *testing.T) {
	// Not parallel: the database goes down for every test.
	getenv, base := testEnv(t, map[string]string{
		"FUNDIGO_MPESA_CALLBACK_TOKEN": e2eCallbackToken,
		"FUNDIGO_MPESA_ALLOWED_CIDRS":  "127.0.0.1/32",
	})
	_, logs := startAll(t, getenv, base)
	// Registered after startAll so it runs before its cleanups (and the
	// schema drop): PostgreSQL is up again whatever happened.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_, _ = pgCluster(ctx, "start") // fails harmlessly when already running
		for ctx.Err() == nil {
			if exec.CommandContext(ctx, "pg_isready", "-h", "127.0.0.1").Run() == nil {
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
		t.Errorf("cleanup: postgres not ready after restart")
	})

	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16},
	}
	t.Cleanup(client.CloseIdleConnections)
	url := base + "/v1/webhooks/mpesa/stk/" + e2eCallbackToken

	var (
		mu       sync.Mutex
		attempts []chaosAttempt
		seq      atomic.Int64
		wg       sync.WaitGroup
	)
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("ws_CO_chaos_%d", seq.Add(1))
				body := `{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"` +
					id + `","ResultCode":1032,"ResultDesc":"Request cancelled by user"}}}`
				a := chaosAttempt{id: id, sent: time.Now()}
				resp, err := client.Post(url, "application/json", bytes.NewReader([]byte(body)))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					a.code = resp.StatusCode
				}
				a.done = time.Now()
				mu.Lock()
				attempts = append(attempts, a)
				mu.Unlock()
			}
		})
	}
	stopPosting := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopPosting)

	// Let some callbacks land before the restart.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range attempts {
			if a.code == http.StatusOK {
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond, "no callback answered 200 before the restart")
	<-time.After(time.Second) // a steady load, not a synchronisation

	restartCtx, cancelRestart := context.WithTimeout(context.Background(), 2*time.Minute)
	restartStart := time.Now()
	out, err := pgCluster(restartCtx, "restart")
	restartEnd := time.Now()
	cancelRestart()
	require.NoError(t, err, "pg_ctlcluster restart: %s", out)
	t.Logf("postgres restart took %v", restartEnd.Sub(restartStart))

	<-time.After(3 * time.Second) // keep posting across the recovery
	stopPosting()

	mu.Lock()
	all := append([]chaosAttempt(nil), attempts...)
	mu.Unlock()
	var before200, after200, during200, non200 int
	codes := map[int]int{}
	answered := map[string]bool{}
	for _, a := range all {
		codes[a.code]++
		if a.code != http.StatusOK {
			non200++
			continue
		}
		answered[a.id] = true
		switch {
		case a.done.Before(restartStart):
			before200++
		case a.sent.After(restartEnd):
			after200++
		default:
			during200++
		}
	}
	t.Logf("posted %d: 200 before=%d during=%d after=%d, non-200=%d, codes (0 = transport error) %v",
		len(all), before200, during200, after200, non200, codes)
	require.Positive(t, before200, "no 200 before the restart")
	require.Positive(t, after200, "no 200 after the restart\nlogs:\n%s", tail(logs.String(), 4000))
	if non200 == 0 {
		t.Logf("restart too quick to observe: no callback was refused during the outage")
	}

	require.Eventually(t, func() bool {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 100*time.Millisecond, "/readyz did not return to 200")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, getenv("FUNDIGO_DATABASE_URL"))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	rows := map[string]int{}
	require.Eventually(t, func() bool {
		r, err := pool.Query(ctx, `SELECT natural_key, count(*) FROM inbox
			WHERE route = $1 AND natural_key LIKE 'ws_CO_chaos_%' GROUP BY natural_key`, mpesa.InboxRouteSTK)
		if err != nil {
			return false
		}
		got := map[string]int{}
		for r.Next() {
			var key string
			var n int
			if r.Scan(&key, &n) != nil {
				r.Close()
				return false
			}
			got[key] = n
		}
		if r.Err() != nil {
			return false
		}
		rows = got
		return true
	}, 60*time.Second, 100*time.Millisecond, "inbox not queryable after the restart")

	var stored, lost, strays int
	for key, n := range rows {
		stored += n
		require.Equal(t, 1, n, "inbox rows for %s", key)
		if !answered[key] {
			strays++
		}
	}
	for id := range answered {
		if rows[id] != 1 {
			lost++
		}
	}
	t.Logf("inbox rows %d for %d ids answered 200 (%d non-200 attempts, %d of those stored anyway)",
		stored, len(answered), non200, strays)
	require.Zero(t, lost, "callbacks answered 200 without an inbox row")
}
