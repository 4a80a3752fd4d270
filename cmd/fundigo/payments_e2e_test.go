package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/mpesa/mpesasim"
	"fundigo/pkg/tasks"
	"fundigo/pkg/tasks/taskstest"
)

const (
	e2eKey           = "e2e-service-key-0123456789"
	e2eCallbackToken = "e2e-callback-token-0123456789abcdef"
)

// paymentsE2E is one `fundigo all` with the in-process Daraja simulator.
type paymentsE2E struct {
	base   string
	getenv func(string) string
	pool   *pgxpool.Pool
	http   *http.Client
	logs   *lockedBuffer
	stop   func() error
}

func startPaymentsE2E(t *testing.T) *paymentsE2E {
	t.Helper()
	getenv, base := testEnv(t, map[string]string{
		"FUNDIGO_MPESA_CALLBACK_TOKEN":     e2eCallbackToken,
		"FUNDIGO_MPESA_SIM_CALLBACK_DELAY": "300ms",
		"FUNDIGO_PAYMENTS_QUERY_AFTER":     "1s",
		"FUNDIGO_PAYMENTS_QUERY_EVERY":     "1s",
		"FUNDIGO_PAYMENTS_FINAL_DEADLINE":  "1h",
	})
	stop, logs := startAll(t, getenv, base)
	return startPaymentsE2EOn(t, getenv, base, logs, stop)
}

// startPaymentsE2EOn wraps a running `fundigo all` for payment assertions.
func startPaymentsE2EOn(t *testing.T, getenv func(string) string, base string, logs *lockedBuffer, stop func() error) *paymentsE2E {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), getenv("FUNDIGO_DATABASE_URL"))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &paymentsE2E{base: base, getenv: getenv, pool: pool, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}, logs: logs, stop: stop}
}

func (e *paymentsE2E) call(t *testing.T, method, path string, body any, headers map[string]string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			b, err = json.Marshal(body)
			require.NoError(t, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	require.NoError(t, err)
	req.Header.Set("X-API-Key", e2eKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (e *paymentsE2E) createPayment(t *testing.T, phone string, amount int) string {
	t.Helper()
	code, p := e.call(t, http.MethodPost, "/v1/payments", map[string]any{
		"job_id": "job-" + phone, "customer_id": "cust-1", "phone": phone, "amount": amount,
	}, nil)
	require.Equal(t, http.StatusAccepted, code, "%v", p)
	require.Equal(t, "pending", p["status"])
	return p["id"].(string)
}

// waitStatus polls GET /v1/payments/{id} until its status is want.
func (e *paymentsE2E) waitStatus(t *testing.T, id, want string) map[string]any {
	t.Helper()
	var last map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, last = e.call(t, http.MethodGet, "/v1/payments/"+id, nil, nil)
		if last["status"] == want {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment %s never reached %s: %v", id, want, last)
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
}

// reconcile enqueues a reconciliation run now (the scheduler's tick is a minute).
func (e *paymentsE2E) reconcile(t *testing.T) {
	t.Helper()
	c := asynq.NewClient(taskstest.RedisOpt())
	defer c.Close()
	_, err := c.Enqueue(tasks.NewPaymentsReconcile(tasks.NewQueues(e.getenv("FUNDIGO_TASKS_QUEUE_PREFIX")).Default))
	require.NoError(t, err)
}

// publishedEvent waits until the payment's event was confirmed by RabbitMQ
// (the outbox row is marked published) and returns its payload.
func (e *paymentsE2E) publishedEvent(t *testing.T, routingKey, id string) map[string]any {
	t.Helper()
	var payload []byte
	require.Eventually(t, func() bool {
		err := e.pool.QueryRow(context.Background(), `SELECT payload FROM outbox
			WHERE message_id = $1 AND published_at IS NOT NULL`, routingKey+":"+id).Scan(&payload)
		return err == nil
	}, 20*time.Second, 50*time.Millisecond, "event %s of %s not published", routingKey, id)
	var m map[string]any
	require.NoError(t, json.Unmarshal(payload, &m))
	return m
}

func TestPaymentsEndToEnd(t *testing.T) {
	t.Parallel()
	e := startPaymentsE2E(t)

	failures := []struct {
		phone, reason, code string
	}{
		{mpesasim.PhoneCancelled, "cancelled", "1032"},
		{mpesasim.PhoneTimeout, "timeout", "1037"},
		{mpesasim.PhoneInsufficientFunds, "insufficient_funds", "1"},
		{mpesasim.PhoneWrongPIN, "wrong_pin", "2001"},
		{mpesasim.PhoneExpired, "expired", "1019"},
	}
	t.Run("group", func(t *testing.T) {
		t.Run("success "+mpesasim.PhoneSuccess, func(t *testing.T) {
			t.Parallel()
			id := e.createPayment(t, "0708 374 149", 1500)
			p := e.waitStatus(t, id, "paid")
			require.NotEmpty(t, p["mpesa_receipt"])
			require.Equal(t, "2547****4149", p["phone"])
			require.Equal(t, "0", p["result_code"])
			require.Nil(t, p["failure_reason"])
			ev := e.publishedEvent(t, "payment.paid", id)
			require.Equal(t, "paid", ev["status"])
			require.Equal(t, p["mpesa_receipt"], ev["mpesa_receipt"])
			var ledger int
			require.NoError(t, e.pool.QueryRow(context.Background(),
				`SELECT count(*) FROM payment_ledger WHERE payment_id = $1`, id).Scan(&ledger))
			require.Equal(t, 1, ledger)
		})
		for _, f := range failures {
			t.Run(f.reason+" "+f.phone, func(t *testing.T) {
				t.Parallel()
				id := e.createPayment(t, "+"+f.phone, 10)
				p := e.waitStatus(t, id, "failed")
				require.Equal(t, f.reason, p["failure_reason"])
				require.Equal(t, f.code, p["result_code"])
				require.Nil(t, p["mpesa_receipt"])
				ev := e.publishedEvent(t, "payment.failed", id)
				require.Equal(t, f.reason, ev["failure_reason"])
			})
		}
		t.Run("query only "+mpesasim.PhoneQueryOnly, func(t *testing.T) {
			t.Parallel()
			id := e.createPayment(t, mpesasim.PhoneQueryOnly, 20)
			e.waitStatus(t, id, "awaiting_callback")
			var p map[string]any
			require.Eventually(t, func() bool {
				e.reconcile(t)
				_, p = e.call(t, http.MethodGet, "/v1/payments/"+id, nil, nil)
				return p["status"] == "paid"
			}, 30*time.Second, 500*time.Millisecond)
			require.Equal(t, "0", p["result_code"])
			require.Nil(t, p["mpesa_receipt"], "STK Query carries no receipt")
			e.publishedEvent(t, "payment.paid", id)
		})
		t.Run("silent "+mpesasim.PhoneSilent+" with a callback of our own", func(t *testing.T) {
			t.Parallel()
			id := e.createPayment(t, mpesasim.PhoneSilent, 30)
			p := e.waitStatus(t, id, "awaiting_callback")
			checkout := p["checkout_request_id"].(string)
			body := mpesasim.CallbackBody("m-1", checkout, "0", "The service request is processed successfully.",
				30, "E2ESILENT1", mpesasim.PhoneSilent, time.Now())
			for range 2 { // an identical redelivery changes nothing
				code, ack := e.call(t, http.MethodPost, "/v1/webhooks/mpesa/stk/"+e2eCallbackToken, body, nil)
				require.Equal(t, http.StatusOK, code)
				require.Equal(t, map[string]any{"ResultCode": float64(0), "ResultDesc": "Accepted"}, ack)
			}
			// No allowlist: our post is an untrusted success, and Daraja (the
			// simulator never completed this push) does not confirm it.
			require.Eventually(t, func() bool {
				var asked bool
				_ = e.pool.QueryRow(context.Background(), `SELECT last_queried_at IS NOT NULL FROM payments WHERE id = $1`, id).Scan(&asked)
				return asked
			}, 30*time.Second, 50*time.Millisecond)
			_, p = e.call(t, http.MethodGet, "/v1/payments/"+id, nil, nil)
			require.Equal(t, "awaiting_callback", p["status"])
			var inboxRows int
			require.NoError(t, e.pool.QueryRow(context.Background(),
				`SELECT count(*) FROM inbox WHERE natural_key = $1`, checkout).Scan(&inboxRows))
			require.Equal(t, 1, inboxRows)
		})
	})

	require.NoError(t, e.stop())
	assertNoSecretsInLogs(t, e.logs.String(), e2eKey, e2eCallbackToken, "sim-consumer-secret", "sim-passkey")
}

// assertNoSecretsInLogs fails if a full Kenyan MSISDN, a bearer/basic
// credential or one of secrets appears in the captured logs.
func assertNoSecretsInLogs(t *testing.T, logs string, secrets ...string) {
	t.Helper()
	require.NotEmpty(t, logs)
	require.Contains(t, logs, "2547****", "masked numbers are logged, so the check has something to look at")
	msisdn := regexp.MustCompile(`(?:\+?254|\b0)[17]\d{8}\b`)
	if m := msisdn.FindAllString(logs, 5); len(m) > 0 {
		t.Fatalf("logs contain full phone numbers: %v", m)
	}
	for _, s := range secrets {
		require.NotContains(t, logs, s, "a secret leaked into the logs")
	}
	for _, pat := range []string{`(?i)bearer\s+[A-Za-z0-9._~+/-]{8,}`, `(?i)basic\s+[A-Za-z0-9+/=]{8,}`, `access_token`} {
		if m := regexp.MustCompile(pat).FindString(logs); m != "" {
			t.Fatalf("logs contain a credential: %q", m)
		}
	}
}
